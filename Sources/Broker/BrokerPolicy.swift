import MQTT

/// Who a connected client is, as the policy decided at CONNECT.
package struct ClientIdentity: Sendable, Hashable {
    /// The MQTT client id.
    package var clientID: String
    /// The authenticated user (a device or registry id later), if any.
    package var username: String?
    /// Where the client connected from ("in-process" for the in-process API).
    package var remoteAddress: String

    package init(clientID: String, username: String? = nil, remoteAddress: String) {
        self.clientID = clientID
        self.username = username
        self.remoteAddress = remoteAddress
    }
}

/// What a CONNECT carries that the authentication hook needs.
package struct ConnectRequest: Sendable {
    package var clientID: String
    package var username: String?
    package var password: [UInt8]?
    package var remoteAddress: String
    package var cleanSession: Bool
    package var will: Will?
}

/// The authentication hook's answer.
package enum Authentication: Sendable, Equatable {
    /// Accepted, as this identity.
    case accepted(ClientIdentity)
    /// Refused with this CONNACK return code (4 bad user name or password, 5 not authorised).
    case refused(ConnectReturnCode)
}

/// How a topic filter is stored and how matching topics are shown to the subscriber.
package struct FilterRewrite: Sendable, Equatable {
    /// The filter to match against published topics.
    package var filter: String
    /// Topics that start with `presentedPrefix.canonical` are delivered with that prefix
    /// replaced by `presentedPrefix.presented` (an alias); nil delivers topics as they are.
    package var presentedPrefix: (canonical: String, presented: String)?

    package init(filter: String, presentedPrefix: (canonical: String, presented: String)? = nil) {
        self.filter = filter
        self.presentedPrefix = presentedPrefix
    }

    package static func == (lhs: FilterRewrite, rhs: FilterRewrite) -> Bool {
        lhs.filter == rhs.filter && lhs.presentedPrefix?.canonical == rhs.presentedPrefix?.canonical
            && lhs.presentedPrefix?.presented == rhs.presentedPrefix?.presented
    }
}

/// The hooks through which a registry policy (IOT-CORE.md) plugs into the broker. Every method
/// runs on the broker's reactor thread, for socket clients and in-process clients alike: keep
/// them quick and non-blocking.
package protocol BrokerPolicy: Sendable {
    /// At CONNECT: the identity to give the client, or the CONNACK code that refuses it.
    func authenticate(_ request: ConnectRequest) -> Authentication
    /// Maps a published topic (an alias, `$me/...`) to the topic it stands for.
    func rewriteTopic(_ topic: String, from client: ClientIdentity) -> String
    /// Maps a subscribed filter to the filter stored, and how deliveries are named.
    func rewriteFilter(_ filter: String, for client: ClientIdentity) -> FilterRewrite
    /// May `client` publish to `topic` (after rewriting)? No disconnects the client.
    func mayPublish(_ topic: String, client: ClientIdentity) -> Bool
    /// The QoS granted for a subscription (after rewriting), or nil to answer 0x80 for it.
    func grantSubscription(_ filter: String, qos: QoS, client: ClientIdentity) -> QoS?
}

extension BrokerPolicy {
    package func authenticate(_ request: ConnectRequest) -> Authentication {
        .accepted(ClientIdentity(clientID: request.clientID, username: request.username, remoteAddress: request.remoteAddress))
    }
    package func rewriteTopic(_ topic: String, from client: ClientIdentity) -> String { topic }
    package func rewriteFilter(_ filter: String, for client: ClientIdentity) -> FilterRewrite { FilterRewrite(filter: filter) }
    package func mayPublish(_ topic: String, client: ClientIdentity) -> Bool { true }
    package func grantSubscription(_ filter: String, qos: QoS, client: ClientIdentity) -> QoS? { qos }
}

/// Plain MQTT: anyone may connect, publish and subscribe.
package struct OpenPolicy: BrokerPolicy {
    package init() {}
}
