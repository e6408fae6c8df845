import Serial

/// The gateway config (`modbridge.json`), validated; profiles are resolved by `ConfigurationLoader`.
public struct GatewayConfig: Sendable, Equatable {
    public var broker: BrokerSettings
    /// Folder for the broker's durable state, resolved against the config file's folder.
    public var storage: String?
    /// Folders or files holding profiles, resolved against the config file's folder.
    public var profiles: [String]
    public var buses: [BusSettings]
    public var registries: [RegistrySettings]

    /// The bus called `id`.
    public func bus(_ id: String) -> BusSettings? { buses.first { $0.id == id } }
}

/// The embedded broker, or the upstream one.
public enum BrokerSettings: Sendable, Equatable {
    case embedded(listeners: [Listener], maximumMessageSize: Int)
    case upstream(Upstream)

    public struct Listener: Sendable, Equatable {
        public var host: String
        public var port: UInt16

        public init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }
    }

    public struct Upstream: Sendable, Equatable {
        public var host: String
        public var port: UInt16
        public var clientID: String
        public var username: String?
        public var password: String?
        public var keepAlive: Duration

        public init(host: String, port: UInt16, clientID: String, username: String?, password: String?, keepAlive: Duration) {
            self.host = host
            self.port = port
            self.clientID = clientID
            self.username = username
            self.password = password
            self.keepAlive = keepAlive
        }
    }
}

/// One serial line, Modbus TCP endpoint, or simulated line.
public struct BusSettings: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `device` as written, or resolved against the config file's folder when relative (by `ConfigurationLoader`).
        case rtu(device: String, line: SerialLine)
        case tcp(host: String, port: UInt16)
        /// Simulated controllers answering as `units` on a pty created at start.
        case simulator(units: [UInt8], line: SerialLine)
    }

    /// Serial framing, as the gateway passes it to the line.
    public struct SerialLine: Sendable, Equatable {
        public var baud = BaudRate.b9600
        /// "none", "even" or "odd".
        public var parity = "none"
        public var dataBits = 8
        public var stopBits = 1
        /// "off", "on" or "auto".
        public var rs485 = "auto"

        public init(baud: BaudRate = .b9600, parity: String = "none", dataBits: Int = 8, stopBits: Int = 1, rs485: String = "auto") {
            self.baud = baud
            self.parity = parity
            self.dataBits = dataBits
            self.stopBits = stopBits
            self.rs485 = rs485
        }
    }

    public var id: String
    public var kind: Kind
    public var responseTimeout: Duration
    public var byteTimeout: Duration
    /// Nil: t3.5 for the line's baud (none on TCP).
    public var interFrameDelay: Duration?
}

/// A registry and its devices.
public struct RegistrySettings: Sendable, Equatable {
    public var id: String
    public var devices: [DeviceSettings]
}

/// One controller as a device of a registry, before its profile is resolved.
public struct DeviceSettings: Sendable, Equatable {
    public var id: String
    public var name: String
    public var bus: String
    public var unit: UInt8
    public var profile: String
    /// Changes to the profile for this device only (merged over the profile's JSON).
    public var overrides: JSONValue?
    /// Where the device sits in the config (`$.registries[0].devices[1]`), for messages.
    public var path: String
}
