import Broker
import MQTT
import TLS

/// The broker policy of a local IoT Core (docs/iot-core.md): logins by password and
/// certificate, the access table per login, aliases and `$me`, permanent topics, monitoring
/// documents and the optional message rate. Plugged into `Broker.start(_:policy:)`.
package struct RegistryPolicy: BrokerPolicy {
    let index: RegistryIndex
    let limiter: RateLimiter
    let cache = LoginCache()
    let monitoring: MonitoringBoard
    let wallClock: WallClock
    /// Checked for an unknown user name with a password, so that it costs what a known one does.
    let dummyHash: PasswordHash?

    /// A policy for `directory`; `wallClock` gives monitoring and certificate-validity times,
    /// `monitoringFields` the gateway devices' extra monitoring fields.
    package init(_ directory: RegistryDirectory, wallClock: @escaping WallClock = { WallTime.now() },
                 monitoringFields: MonitoringFieldsProvider? = nil) {
        index = RegistryIndex(directory)
        limiter = RateLimiter(index: index, messagesPerSecond: directory.messagesPerSecond)
        monitoring = MonitoringBoard(index: index, wallClock: wallClock, extraFields: monitoringFields)
        self.wallClock = wallClock
        // A hash of nothing in particular (zero salt and key), at the directory's cost.
        dummyHash = try? PasswordHash(parsing: "$pbkdf2-sha256$i=\(index.typicalIterations)$" + String(repeating: "A", count: 22)
                                      + "$" + String(repeating: "A", count: 43))
    }

    /// The compiled rules of `entity`.
    func rules(for entity: Entity) -> EntityRules {
        EntityRules(entity, bucket: limiter.bucket(for: entity.id))
    }

    /// The gateway's own devices, trusted as the id they give (username, else client id).
    package func attachLocal(_ identity: ClientIdentity) -> Authentication {
        let id = identity.username ?? identity.clientID
        guard let entity = index.entities[id] else {
            return .refused(.notAuthorized, Refusal(entity: id, reason: "not a device or registry of the configuration"))
        }
        guard !entity.scope.disabled else {
            return .refused(.notAuthorized, Refusal(entity: id, reason: "registry \(entity.scope.id) is disabled"))
        }
        var identity = identity
        identity.username = id
        return .accepted(identity, rules(for: entity))
    }

    package func isPermanent(_ topic: String) -> Bool { PermanentTopics.contains(topic) }

    package func record(_ activity: ClientActivity, now: ContinuousClock.Instant) {
        switch activity {
        case let .connected(identity):
            monitoring.update(identity.username) { state, time in
                state.lastAuthTime = time
                state.lastAuthIP = identity.remoteAddress
                state.lastOnlineTime = time
                state.connections += 1
            }
        case let .published(identity):
            monitoring.update(identity.username) { state, time in
                state.lastPublishTime = time
                state.lastOnlineTime = time
            }
        case let .subscribed(identity):
            monitoring.update(identity.username) { state, time in
                state.lastSubscribeTime = time
                state.lastOnlineTime = time
            }
        case let .disconnected(identity):
            monitoring.update(identity.username) { state, time in
                state.connections = max(0, state.connections - 1)
                state.lastOnlineTime = time
            }
        case let .loginRefused(_, _, refusal):
            monitoring.update(refusal.entity) { state, _ in state.loginsRefused += 1 }
        case let .publishDenied(identity, _, _):
            monitoring.update(identity.username) { state, _ in state.publishesDenied += 1 }
        case let .subscriptionDenied(identity, _):
            monitoring.update(identity.username) { state, _ in state.subscriptionsDenied += 1 }
        }
    }

    package func dueMessages(now: ContinuousClock.Instant) -> [PolicyMessage] {
        monitoring.due(now: now).map { PolicyMessage(topic: "$monitoring/\($0.deviceID)/json", payload: $0.payload) }
    }
}
