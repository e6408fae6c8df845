import Broker
import MQTT
import Registry
import Synchronization
import TLS

/// A configuration in the shape of the contract: registry `plant-1` (devices `oven-1` with two
/// aliases, `oven-2`, the gateway's `meter-1`), registry `other` (device `pump-1`, whose alias
/// `plant/oven1/` is the same text as one of plant-1's), and the disabled registry `old`.
/// Password hashes use 1,000 iterations (quick).
struct RegistryFixture {
    static let ovenPassword = "Oven-1-password!"
    static let plantPassword = "Plant-1-password!"
    static let legacyPassword = "Legacy-1-password!"

    var directory: RegistryDirectory

    init(messagesPerSecond: Int? = nil, certificates: [String: [CertificateFingerprint]] = [:]) throws {
        func credentials(_ id: String, _ password: String?) throws -> Credentials {
            Credentials(passwordHashes: try password.map { [try PasswordHash.make(password: $0, iterations: 1000)] } ?? [],
                        certificates: certificates[id] ?? [])
        }
        directory = RegistryDirectory(registries: [
            RegistryEntry(id: "plant-1", name: "plant", credentials: try credentials("plant-1", Self.plantPassword), devices: [
                DeviceEntry(id: "oven-1", name: "oven-one", aliases: ["plant/oven1/", "ovens/first/"],
                            credentials: try credentials("oven-1", Self.ovenPassword)),
                DeviceEntry(id: "oven-2", name: "oven-two", aliases: ["plant/oven2/"], credentials: try credentials("oven-2", nil)),
                DeviceEntry(id: "meter-1", name: "meter-one", isGatewayDevice: true),
            ]),
            RegistryEntry(id: "other", name: "other", credentials: try credentials("other", nil), devices: [
                DeviceEntry(id: "pump-1", name: "pump-one", aliases: ["plant/oven1/"], credentials: try credentials("pump-1", nil)),
            ]),
            RegistryEntry(id: "old", name: "old", disabled: true, credentials: try credentials("old", nil), devices: [
                DeviceEntry(id: "legacy-1", name: "legacy-one", credentials: try credentials("legacy-1", Self.legacyPassword)),
            ]),
        ], messagesPerSecond: messagesPerSecond)
    }
}

/// A wall clock the test sets.
final class TestWallClock: Sendable {
    private let time = Mutex(WallTime(seconds: 1_796_600_467, nanoseconds: 123_000_000))  // 2026-12-06T23:41:07.123Z

    var clock: WallClock { { self.time.withLock { $0 } } }

    func set(_ value: WallTime) { time.withLock { $0 = value } }

    func advance(milliseconds: Int64) {
        time.withLock { time in
            let total = Int64(time.nanoseconds) + milliseconds * 1_000_000
            time.seconds += total / 1_000_000_000
            time.nanoseconds = Int32(total % 1_000_000_000)
        }
    }
}

extension RegistryPolicy {
    /// The rules the policy gives `entity` (through the in-process hook, which trusts the id).
    func rules(_ entity: String) -> any SessionPolicy {
        switch attachLocal(ClientIdentity(clientID: entity, username: entity, remoteAddress: "in-process")) {
        case let .accepted(_, rules): rules
        case let .refused(_, refusal): RefusedRules(refusal: refusal)
        }
    }

    /// The outcome of a login, running the slow check where the policy asks for one: the entity
    /// accepted, or the refusal code; and whether the answer was decided without the check.
    func login(_ request: ConnectRequest) -> (outcome: LoginOutcome, decidedAtOnce: Bool) {
        switch authenticate(request) {
        case let .decided(authentication): (LoginOutcome(authentication), true)
        case let .verify(check): (LoginOutcome(check()), false)
        }
    }
}

/// What a login came to, comparable in tests.
enum LoginOutcome: Equatable, CustomStringConvertible {
    case accepted(String)
    case refused(ConnectReturnCode)

    init(_ authentication: Authentication) {
        switch authentication {
        case let .accepted(identity, _): self = .accepted(identity.username ?? "-")
        case let .refused(code, _): self = .refused(code)
        }
    }

    var description: String {
        switch self {
        case let .accepted(entity): "accepted as \(entity)"
        case let .refused(code): "refused with \(code.rawValue)"
        }
    }
}

/// Stands for rules the policy refused to give (every check fails).
final class RefusedRules: SessionPolicy {
    let refusal: Refusal
    init(refusal: Refusal) { self.refusal = refusal }
    func publish(to topic: String) -> PublishDecision { .denied(refusal) }
    func subscribe(to filter: String) -> [FilterRewrite] { [] }
}

extension SessionPolicy {
    /// The canonical topic a publish is allowed to, nil if denied.
    func allowed(_ topic: String) -> String? {
        if case let .allowed(canonical) = publish(to: topic) { canonical } else { nil }
    }

    /// The stored filters a subscribe stands for (without presentation).
    func filters(_ filter: String) -> [String] { subscribe(to: filter).map(\.filter) }
}
