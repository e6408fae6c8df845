/// What `$monitoring/<id>/json` says of one device.
struct DeviceActivity {
    var lastAuthTime: WallTime?
    var lastAuthIP: String?
    var lastPublishTime: WallTime?
    var lastSubscribeTime: WallTime?
    var lastOnlineTime: WallTime?
    /// Open connections (sessions) logged in as the device.
    var connections = 0
    var loginsRefused = 0
    var publishesDenied = 0
    var subscriptionsDenied = 0
    /// When its document was last published (monotonic), for the once-a-second throttle.
    var lastSent: ContinuousClock.Instant?
}

/// The devices' monitoring state and the throttle of their documents (IOT-CORE.md,
/// "Monitoring"): a change goes out at once if the device's last document is a second old,
/// otherwise when that second ends, so the last state is always published.
/// `@unchecked Sendable`: only the broker's reactor thread calls it (`record`, `dueMessages`).
final class MonitoringBoard: @unchecked Sendable {
    static let interval = Duration.seconds(1)

    private let devices: [String: (registryID: String, isGatewayDevice: Bool)]
    private let extraFields: MonitoringFieldsProvider?
    private let wallClock: WallClock
    private var activity: [String: DeviceActivity] = [:]
    /// Devices whose state changed since their last document, in order of their first change.
    private var changed: [String] = []
    private var changedSet: Set<String> = []

    init(index: RegistryIndex, wallClock: @escaping WallClock, extraFields: MonitoringFieldsProvider?) {
        var devices: [String: (registryID: String, isGatewayDevice: Bool)] = [:]
        for entity in index.entities.values where entity.kind == .device {
            devices[entity.id] = (entity.scope.id, entity.isGatewayDevice)
        }
        self.devices = devices
        self.wallClock = wallClock
        self.extraFields = extraFields
    }

    /// Applies `change` to `deviceID`'s state (ignored for registries and unknown ids).
    func update(_ deviceID: String?, _ change: (inout DeviceActivity, WallTime) -> Void) {
        guard let deviceID, devices[deviceID] != nil else { return }
        change(&activity[deviceID, default: DeviceActivity()], wallClock())
        if changedSet.insert(deviceID).inserted { changed.append(deviceID) }
    }

    /// The documents due at `now`; changes throttled by the interval stay for a later call.
    func due(now: ContinuousClock.Instant) -> [(deviceID: String, payload: [UInt8])] {
        guard !changed.isEmpty else { return [] }
        var documents: [(String, [UInt8])] = []
        var waiting: [String] = []
        for deviceID in changed {
            guard var state = activity[deviceID] else { continue }
            if let lastSent = state.lastSent, now < lastSent.advanced(by: Self.interval) {
                waiting.append(deviceID)
                continue
            }
            state.lastSent = now
            activity[deviceID] = state
            documents.append((deviceID, document(deviceID, state)))
        }
        changed = waiting
        changedSet = Set(waiting)
        return documents
    }

    /// The document of one device: the contract's fields, then modbridge's, then the gateway's.
    func document(_ deviceID: String, _ state: DeviceActivity) -> [UInt8] {
        func time(_ value: WallTime?) -> MonitoringValue { value.map { .string($0.rfc3339) } ?? .null }
        let device = devices[deviceID]
        var json = JSONObjectWriter()
        json.field("device_id", .string(deviceID))
        json.field("registry_id", .string(device?.registryID ?? ""))
        json.field("last_auth_time", time(state.lastAuthTime))
        json.field("last_auth_ip", state.lastAuthIP.map { .string($0) } ?? .null)
        json.field("last_pub_activity_time", time(state.lastPublishTime))
        json.field("last_sub_activity_time", time(state.lastSubscribeTime))
        json.field("last_online_time", time(state.lastOnlineTime))
        json.field("online", .bool(state.connections > 0))
        json.field("connections", .integer(Int64(state.connections)))
        json.field("logins_refused", .integer(Int64(state.loginsRefused)))
        json.field("publishes_denied", .integer(Int64(state.publishesDenied)))
        json.field("subscriptions_denied", .integer(Int64(state.subscriptionsDenied)))
        if device?.isGatewayDevice == true, let extraFields {
            for (name, value) in extraFields(deviceID) { json.field(name, value) }
        }
        return json.finish()
    }
}
