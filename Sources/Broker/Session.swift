import MQTT

/// The state the broker keeps for one client id: subscriptions, messages on their way to the
/// client, and inbound QoS 2 identifiers awaiting PUBREL. A persistent session (clean session
/// 0) outlives its connections; a clean one ends with its connection. Reactor thread only.
final class Session: Hashable {
    let clientID: String
    let persistent: Bool
    /// Who the client is, as authenticated at its latest CONNECT.
    var identity: ClientIdentity
    /// Filters as stored in the subscription tree, with their granted QoS.
    var subscriptions: [String: QoS] = [:]
    /// Topic prefixes to present under another name (aliases), from the policy's filter rewrite.
    var presentedPrefixes: [(canonical: String, presented: String)] = []
    var outgoing = OutgoingQueue()
    /// Inbound QoS 2 messages delivered and waiting for PUBREL (4.3.3, method B).
    var awaitingRelease: Set<UInt16> = []
    /// Where deliveries go now: a socket connection, an in-process sink, or nowhere (offline).
    var endpoint: Endpoint?

    enum Endpoint {
        case connection(Connection)
        case local(LocalSink)
    }

    init(clientID: String, persistent: Bool, identity: ClientIdentity) {
        self.clientID = clientID
        self.persistent = persistent
        self.identity = identity
    }

    var connection: Connection? {
        if case let .connection(connection)? = endpoint { return connection }
        return nil
    }

    /// The topic this client sees for `topic`: an alias name if it subscribed through one.
    func presentedTopic(for topic: String) -> String? {
        for (canonical, presented) in presentedPrefixes where topic.hasPrefix(canonical) {
            return presented + topic.dropFirst(canonical.count)
        }
        return nil
    }

    static func == (lhs: Session, rhs: Session) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
