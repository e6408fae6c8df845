import MQTT

/// The state the broker keeps for one client id: subscriptions, messages on their way to the
/// client, and inbound QoS 2 identifiers awaiting PUBREL. A persistent session (clean session
/// 0) outlives its connections; a clean one ends with its connection. Reactor thread only.
final class Session: Hashable {
    let clientID: String
    let persistent: Bool
    /// Who the client is, as authenticated at its latest CONNECT.
    var identity: ClientIdentity
    /// The rules the policy compiled for the client at its latest CONNECT.
    var policy: any SessionPolicy
    /// Subscriptions as stored in the subscription tree (filter and the name matches are
    /// delivered under), with their granted QoS.
    var subscriptions: [FilterRewrite: QoS] = [:]
    var outgoing = OutgoingQueue()
    /// Inbound QoS 2 messages delivered and waiting for PUBREL (4.3.3, method B).
    var awaitingRelease: Set<UInt16> = []
    /// Where deliveries go now: a socket connection, an in-process sink, or nowhere (offline).
    var endpoint: Endpoint?
    /// The session's entries in the subscription tree: one per way of naming topics, so that a
    /// client subscribed both through an alias and directly gets each message under each name.
    /// Made on the first subscription: an idle client that never subscribes costs none.
    private var plainSubscriber: Subscriber?
    private var presentedSubscribers: [PresentedPrefix: Subscriber] = [:]

    enum Endpoint {
        case connection(Connection)
        case local(LocalSink)
    }

    init(clientID: String, persistent: Bool, identity: ClientIdentity, policy: any SessionPolicy) {
        self.clientID = clientID
        self.persistent = persistent
        self.identity = identity
        self.policy = policy
    }

    var connection: Connection? {
        if case let .connection(connection)? = endpoint { return connection }
        return nil
    }

    /// The tree entry for subscriptions presented through `prefix` (nil: topics as they are).
    func subscriber(presenting prefix: PresentedPrefix?) -> Subscriber {
        guard let prefix else {
            if let plainSubscriber { return plainSubscriber }
            let subscriber = Subscriber(session: self, presentedPrefix: nil)
            plainSubscriber = subscriber
            return subscriber
        }
        if let existing = presentedSubscribers[prefix] { return existing }
        let subscriber = Subscriber(session: self, presentedPrefix: prefix)
        presentedSubscribers[prefix] = subscriber
        return subscriber
    }

    static func == (lhs: Session, rhs: Session) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// A session as the subscription tree holds it: the session and the name under which topics
/// matched through this entry are delivered. Compared by identity, so a match costs no string
/// hashing.
final class Subscriber: Hashable {
    unowned let session: Session
    let presentedPrefix: PresentedPrefix?

    init(session: Session, presentedPrefix: PresentedPrefix?) {
        self.session = session
        self.presentedPrefix = presentedPrefix
    }

    /// `topic` as this subscriber sees it.
    func present(_ topic: String) -> String {
        presentedPrefix?.present(topic) ?? topic
    }

    static func == (lhs: Subscriber, rhs: Subscriber) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

extension FilterRewrite {
    /// The form kept in a storage record's filter field: the filter alone, or the filter, the
    /// canonical prefix and the presented prefix joined by NUL, a character no topic or filter
    /// may hold (MQTT 3.1.1 section 1.5.3), so records written before aliases read back as they are.
    var storageKey: String {
        guard let prefix = presentedPrefix else { return filter }
        return filter + "\u{0}" + prefix.canonical + "\u{0}" + prefix.presented
    }

    init(storageKey: String) {
        let parts = storageKey.split(separator: "\u{0}", omittingEmptySubsequences: false)
        if parts.count == 3 {
            self.init(filter: String(parts[0]), presentedPrefix: PresentedPrefix(canonical: String(parts[1]), presented: String(parts[2])))
        } else {
            self.init(filter: storageKey)
        }
    }
}
