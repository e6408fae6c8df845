import MQTT
import TLS

/// Who a connected client is, as the policy decided at CONNECT.
package struct ClientIdentity: Sendable, Hashable {
    /// The MQTT client id.
    package var clientID: String
    /// The entity the client logged in as (a device or registry id), if any.
    package var username: String?
    /// Where the client connected from ("in-process" for the in-process API).
    package var remoteAddress: String

    package init(clientID: String, username: String? = nil, remoteAddress: String) {
        self.clientID = clientID
        self.username = username
        self.remoteAddress = remoteAddress
    }
}

/// How a client reached the broker, as the authentication hook sees it.
package enum ConnectChannel: Sendable, Equatable {
    /// A plain TCP listener; `insecure` ones accept passwords without TLS (loopback, tests).
    case plain(insecure: Bool)
    /// A TLS listener, with the certificate the client presented during the handshake, if any.
    /// The broker does not judge it (no CA chain is required): the policy does.
    case tls(clientCertificate: Certificate?)
    /// The in-process API (the gateway's own devices).
    case inProcess
}

/// What a CONNECT carries that the authentication hook needs.
package struct ConnectRequest: Sendable {
    package var clientID: String
    package var username: String?
    package var password: [UInt8]?
    package var remoteAddress: String
    package var cleanSession: Bool
    package var will: Will?
    package var channel: ConnectChannel
    /// The entity the listener logs clients without credentials in as (`ListenerConfiguration.anonymousEntity`).
    package var anonymousEntity: String?

    package init(clientID: String, username: String? = nil, password: [UInt8]? = nil, remoteAddress: String,
                 cleanSession: Bool = true, will: Will? = nil, channel: ConnectChannel, anonymousEntity: String? = nil) {
        self.anonymousEntity = anonymousEntity
        self.clientID = clientID
        self.username = username
        self.password = password
        self.remoteAddress = remoteAddress
        self.cleanSession = cleanSession
        self.will = will
        self.channel = channel
    }
}

/// Why the policy said no: logged (once, rate limited) and counted by the broker.
package struct Refusal: Sendable, Equatable, CustomStringConvertible {
    /// The entity the client claimed or was found to be (a device or registry id), if any.
    package var entity: String?
    /// What was wrong, for the log ("bad password", "registry disabled", "not its topic").
    package var reason: String

    package init(entity: String?, reason: String) {
        self.entity = entity
        self.reason = reason
    }

    package var description: String { entity.map { "\($0): \(reason)" } ?? reason }
}

/// The authentication hook's answer.
package enum Authentication: Sendable {
    /// Accepted, as this identity, under these rules.
    case accepted(ClientIdentity, any SessionPolicy)
    /// Refused with this CONNACK return code (4 bad user name or password, 5 not authorised).
    case refused(ConnectReturnCode, Refusal)
}

/// How the authentication hook answers: at once, or after slow work (a password hash) that the
/// broker runs on a worker thread, never on its reactor, handing the result back to the reactor.
package enum AuthenticationStep: Sendable {
    case decided(Authentication)
    case verify(@Sendable () -> Authentication)
}

/// A subscription as the broker stores it: the filter matched against published topics, and the
/// name under which matching topics are delivered to this client.
package struct FilterRewrite: Sendable, Hashable {
    /// The filter to match against published topics (canonical topics: `$devices/<id>/...`).
    package var filter: String
    /// Topics that start with `presentedPrefix.canonical` are delivered with that prefix replaced
    /// by `presentedPrefix.presented` (an alias, `$me/...`); nil delivers topics as they are.
    package var presentedPrefix: PresentedPrefix?

    package init(filter: String, presentedPrefix: PresentedPrefix? = nil) {
        self.filter = filter
        self.presentedPrefix = presentedPrefix
    }
}

/// A topic prefix shown to one subscriber under another name.
package struct PresentedPrefix: Sendable, Hashable {
    /// The prefix of canonical topics ("$devices/oven-1/").
    package var canonical: String
    /// What the subscriber sees instead ("plant/oven1/", "$me/device/").
    package var presented: String

    package init(canonical: String, presented: String) {
        self.canonical = canonical
        self.presented = presented
    }

    /// `topic` under the presented name, if it starts with the canonical prefix.
    package func present(_ topic: String) -> String? {
        guard topic.hasPrefix(canonical) else { return nil }
        return presented + topic.dropFirst(canonical.count)
    }
}

/// What a client may publish, compiled once per login.
package enum PublishDecision: Sendable, Equatable {
    /// Allowed, to this canonical topic (the alias or `$me` resolved; often the topic as sent).
    case allowed(topic: String)
    /// Not allowed: the broker disconnects the client (IOT-CORE.md, "A forbidden PUBLISH
    /// disconnects the client").
    case denied(Refusal)
}

/// The rules for one logged-in client, compiled by the policy at CONNECT so that no rule is
/// looked up per message. Called on the broker's reactor thread only: quick and non-blocking.
package protocol SessionPolicy: AnyObject, Sendable {
    /// May the client publish to `topic` (a valid topic name, as sent), and as which topic.
    func publish(to topic: String) -> PublishDecision
    /// The filters a SUBSCRIBE to `filter` (a valid filter, as sent) stands for, narrowed to
    /// what the client may read, each with the name its messages are delivered under; empty
    /// answers 0x80 for it. The broker also calls this for UNSUBSCRIBE, to find what to remove.
    func subscribe(to filter: String) -> [FilterRewrite]
    /// Called for each PUBLISH the client sends (after it is allowed): how long the broker waits
    /// before it handles more of this client's packets (zero: no wait), so that a per-device
    /// message rate is held by back-pressure rather than by dropping messages.
    func pauseAfterPublish(now: ContinuousClock.Instant) -> Duration
}

extension SessionPolicy {
    package func pauseAfterPublish(now: ContinuousClock.Instant) -> Duration { .zero }
}

/// A client event the policy may want to see (for monitoring and its counters).
package enum ClientActivity: Sendable {
    case connected(ClientIdentity)
    case published(ClientIdentity)
    case subscribed(ClientIdentity)
    case disconnected(ClientIdentity)
    /// A CONNECT refused by the policy.
    case loginRefused(clientID: String, remoteAddress: String, Refusal)
    /// A PUBLISH the client was not allowed (it is being disconnected).
    case publishDenied(ClientIdentity, topic: String, Refusal)
    /// A SUBSCRIBE filter answered with 0x80.
    case subscriptionDenied(ClientIdentity, filter: String)
}

/// A message the broker publishes on the policy's behalf (monitoring), at QoS 0, not retained.
package struct PolicyMessage: Sendable, Equatable {
    package var topic: String
    package var payload: [UInt8]

    package init(topic: String, payload: [UInt8]) {
        self.topic = topic
        self.payload = payload
    }
}

/// The hooks through which a registry policy (docs/iot-core.md) plugs into the broker. Every
/// method runs on the broker's reactor thread: quick and non-blocking (slow work goes into
/// `AuthenticationStep.verify`).
package protocol BrokerPolicy: Sendable {
    /// At CONNECT: the identity and rules to give the client, or the CONNACK code that refuses it.
    func authenticate(_ request: ConnectRequest) -> AuthenticationStep
    /// The rules for an in-process client (the gateway's own devices, trusted as who they say
    /// they are); a refusal fails `connectLocal`.
    func attachLocal(_ identity: ClientIdentity) -> Authentication
    /// Whether the last message on `topic` (canonical) is kept, across restarts, and replayed
    /// to a subscription to exactly that topic, never through a wildcard (permanent topics).
    func isPermanent(_ topic: String) -> Bool
    /// Tells the policy what a client did; `now` is the reactor's time of the event.
    func record(_ activity: ClientActivity, now: ContinuousClock.Instant)
    /// Messages the policy wants published now (monitoring, throttled by the policy); asked for
    /// at the end of a reactor turn in which `record` was called, and at every sweep.
    func dueMessages(now: ContinuousClock.Instant) -> [PolicyMessage]
}

extension BrokerPolicy {
    package func authenticate(_ request: ConnectRequest) -> AuthenticationStep {
        .decided(.accepted(ClientIdentity(clientID: request.clientID, username: request.username, remoteAddress: request.remoteAddress),
                           OpenSessionPolicy.shared))
    }
    package func attachLocal(_ identity: ClientIdentity) -> Authentication { .accepted(identity, OpenSessionPolicy.shared) }
    package func isPermanent(_ topic: String) -> Bool { false }
    package func record(_ activity: ClientActivity, now: ContinuousClock.Instant) {}
    package func dueMessages(now: ContinuousClock.Instant) -> [PolicyMessage] { [] }
}

/// Plain MQTT rules for one client: everything allowed, nothing renamed.
package final class OpenSessionPolicy: SessionPolicy {
    package static let shared = OpenSessionPolicy()

    package init() {}
    package func publish(to topic: String) -> PublishDecision { .allowed(topic: topic) }
    package func subscribe(to filter: String) -> [FilterRewrite] { [FilterRewrite(filter: filter)] }
}

/// Plain MQTT: anyone may connect, publish and subscribe.
package struct OpenPolicy: BrokerPolicy {
    package init() {}
}
