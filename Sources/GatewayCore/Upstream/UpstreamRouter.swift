import MQTT
import POSIX
import Synchronization

/// Hands each command or config message from the upstream broker to the device it is for: a
/// device's own topics to that device, a registry's commands to each of its devices. Messages
/// arrive on the upstream loop's thread; devices come and go from the runtime's.
final class UpstreamRouter: Sendable {
    private struct Entry {
        let registry: String
        let relay: InputRelay
    }

    private let layout: TopicLayout
    private let logger: Logger
    private let devices = Mutex<[String: Entry]>([:])

    init(layout: TopicLayout, logger: Logger) {
        self.layout = layout
        self.logger = logger
    }

    /// Messages for `deviceID` (and its registry's commands) go to `relay` from now on.
    func add(_ deviceID: String, registry: String, relay: InputRelay) {
        devices.withLock { $0[deviceID] = Entry(registry: registry, relay: relay) }
    }

    func remove(_ deviceID: String) {
        _ = devices.withLock { $0.removeValue(forKey: deviceID) }
    }

    /// Routes one message; one for no device of this gateway is logged and let go. A message
    /// that came on a device's own connection (`receiver`) goes to that device only: each
    /// device's connection subscribes to its registry's commands, so one registry command
    /// arrives once on every connection of the registry.
    func route(_ publish: Publish, receiver: String? = nil) {
        guard let topic = layout.parse(publish.topic) else {
            logger.log(.warning, "upstream_topic_unknown", ["topic": publish.topic])
            return
        }
        var relays: [(String, InputRelay)] = devices.withLock { devices in
            switch topic {
            case let .devicePoint(device, _), let .deviceBatch(device), let .config(device):
                return devices[device].map { [(device, $0.relay)] } ?? []
            case let .registryPoint(registry, _), let .registryBatch(registry):
                return devices.filter { $0.value.registry == registry }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.relay) }
            }
        }
        if let receiver { relays = relays.filter { $0.0 == receiver } }
        if relays.isEmpty {
            logger.log(.warning, "upstream_command_unrouted", ["topic": publish.topic, "note": "no device of this gateway"])
        }
        for (device, relay) in relays where !relay.pass(DeviceInput(topic: topic, payload: publish.payload)) {
            logger.log(.warning, "command_dropped", ["device": device, "topic": publish.topic, "reason": "the device's backlog is full"])
        }
    }
}
