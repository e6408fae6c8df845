import Mapping
import POSIX

/// What one console login may see of the configuration, as the API's JSON documents: a registry
/// login its registry and every device of it, a device login itself. Credentials are never
/// shown, only how many there are.
struct ConsoleView {
    /// The part of the configuration a login reaches.
    enum Scope {
        case registry(RegistrySettings)
        case device(RegistrySettings, DeviceSettings)

        var registry: RegistrySettings {
            switch self {
            case let .registry(registry), let .device(registry, _): registry
            }
        }

        /// The devices shown: all of the registry's, or the device alone.
        var devices: [DeviceSettings] {
            switch self {
            case let .registry(registry): registry.devices
            case let .device(_, device): [device]
            }
        }
    }

    let configuration: LoadedConfiguration
    let entity: String

    /// The registry or device `entity` names; nil when the configuration no longer has it.
    var scope: Scope? {
        let registries = configuration.config.registries
        if let registry = registries.first(where: { $0.id == entity }) { return .registry(registry) }
        for registry in registries {
            if let device = registry.devices.first(where: { $0.id == entity }) { return .device(registry, device) }
        }
        return nil
    }

    /// `GET /api/session`: who is logged in, and whether the console may publish commands (a
    /// device may not: publishing to a command topic would disconnect it, IOT-CORE.md).
    func session(_ scope: Scope) -> JSONValue {
        let kind: String
        switch scope {
        case .registry: kind = "registry"
        case .device: kind = "device"
        }
        return .object(["entity": .string(entity), "kind": .string(kind), "registry": .string(scope.registry.id),
                        "canWrite": .bool(kind == "registry")])
    }

    /// `GET /api/devices`: each device the login sees, with its Modbus place and its profile's points.
    func devices(_ scope: Scope) -> JSONValue {
        let resolved = Dictionary(configuration.devices.map { ($0.settings.id, $0) }, uniquingKeysWith: { first, _ in first })
        return .object(["devices": .array(scope.devices.map { device in
            guard let polled = resolved[device.id] else {
                // An MQTT device that connects on its own: nothing polled, nothing to write.
                return .object(["id": .string(device.id), "name": .string(device.name), "registry": .string(scope.registry.id),
                                "bus": .null, "unit": .null, "profile": .null, "points": .array([])])
            }
            return .object(["id": .string(device.id), "name": .string(device.name), "registry": .string(scope.registry.id),
                            "bus": .string(polled.bus.id), "unit": .integer(Int64(polled.unit)),
                            "profile": .string(polled.profile.model),
                            "points": .array(polled.profile.points.map(Self.point))])
        })])
    }

    /// One point as the console shows it and validates a write before sending it.
    static func point(_ point: Point) -> JSONValue {
        var fields: [String: JSONValue] = [
            "name": .string(point.name), "description": .string(point.description),
            "type": .string(point.type.name), "table": .string(point.table.rawValue), "access": .string(point.access.rawValue),
            "readable": .bool(point.access.isReadable), "writable": .bool(point.access.isWritable),
            "unit": point.unit.map(JSONValue.string) ?? .null,
        ]
        if let minimum = point.minimum { fields["min"] = .number(minimum) }
        if let maximum = point.maximum { fields["max"] = .number(maximum) }
        if case let .enumeration(labels) = point.type {
            fields["labels"] = .array(labels.sorted { $0.key < $1.key }.map { .string($0.value) })
        }
        return .object(fields)
    }

    /// `GET /api/config`: the gateway's version, the config file, the broker's mode and listeners,
    /// the buses, and the login's registry with its devices; credentials only counted, TLS files
    /// only said to be there.
    func config(_ scope: Scope) -> JSONValue {
        let config = configuration.config
        let mode: String
        switch config.broker {
        case .embedded: mode = "embedded"
        case .upstream: mode = "upstream"
        case .both: mode = "both"
        }
        let registry = scope.registry
        var fields: [String: JSONValue] = [
            "modbridge": .string(ModbridgeVersion.current),
            "file": .string(configuration.file),
            "broker": .object(["mode": .string(mode), "listeners": .array(config.broker.listeners.map(Self.listener))]),
            "buses": .array(config.buses.map(Self.bus)),
            "registry": .object(["id": .string(registry.id), "name": .string(registry.name), "disabled": .bool(registry.disabled),
                                 "credentials": Self.credentials(registry.credentials),
                                 "devices": .array(scope.devices.map(Self.device))]),
        ]
        if case .device = scope {
            // A device login sees its registry's name, not the registry's credentials.
            fields["registry"] = .object(["id": .string(registry.id), "name": .string(registry.name),
                                          "devices": .array(scope.devices.map(Self.device))])
        }
        return .object(fields)
    }

    private static func listener(_ listener: BrokerSettings.Listener) -> JSONValue {
        .object(["host": .string(listener.host), "port": .integer(Int64(listener.port)), "tls": .bool(listener.tls != nil),
                 "insecure": .bool(listener.insecure), "anonymousAs": listener.anonymousAs.map(JSONValue.string) ?? .null])
    }

    private static func bus(_ bus: BusSettings) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(bus.id),
            "responseTimeoutMs": .integer(bus.responseTimeout.milliseconds), "byteTimeoutMs": .integer(bus.byteTimeout.milliseconds),
            "interFrameDelayMs": bus.interFrameDelay.map { .integer($0.milliseconds) } ?? .null,
            "trace": .bool(bus.trace),
        ]
        func line(_ line: BusSettings.SerialLine) -> JSONValue {
            .object(["baud": .integer(Int64(line.baud.rawValue)), "parity": .string(line.parity), "dataBits": .integer(Int64(line.dataBits)),
                     "stopBits": .integer(Int64(line.stopBits)), "rs485": .string(line.rs485), "framing": .string(line.framing)])
        }
        switch bus.kind {
        case let .rtu(device, serial):
            fields["type"] = .string("rtu")
            fields["device"] = .string(device)
            fields["line"] = line(serial)
        case let .tcp(host, port):
            fields["type"] = .string("tcp")
            fields["host"] = .string(host)
            fields["port"] = .integer(Int64(port))
        case let .rtuOverTCP(host, port):
            fields["type"] = .string("rtu-over-tcp")
            fields["host"] = .string(host)
            fields["port"] = .integer(Int64(port))
        case let .simulator(units, serial):
            fields["type"] = .string("simulator")
            fields["units"] = .array(units.map { .integer(Int64($0)) })
            fields["line"] = line(serial)
        }
        if let server = bus.server {
            fields["server"] = .object(["host": .string(server.host), "port": .integer(Int64(server.port)),
                                        "functions": .array(server.functions.map { .integer(Int64($0)) })])
        }
        return .object(fields)
    }

    private static func device(_ device: DeviceSettings) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(device.id), "name": .string(device.name), "aliases": .array(device.aliases.map(JSONValue.string)),
            "credentials": credentials(device.credentials),
        ]
        if let modbus = device.modbus {
            var binding: [String: JSONValue] = ["bus": .string(modbus.bus), "unit": .integer(Int64(modbus.unit)), "profile": .string(modbus.profile)]
            if let overrides = modbus.overrides { binding["overrides"] = overrides }
            fields["modbus"] = .object(binding)
        }
        return .object(fields)
    }

    /// How many passwords and certificates an entity has: never the hashes, files or fingerprints.
    private static func credentials(_ credentials: CredentialSettings) -> JSONValue {
        .object(["passwords": .integer(Int64(credentials.passwords.count)), "certificates": .integer(Int64(credentials.certificates.count))])
    }
}
