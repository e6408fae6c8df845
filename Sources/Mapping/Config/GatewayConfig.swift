import Serial

/// The gateway config (`modbridge.json`), validated; profiles are resolved by `ConfigurationLoader`.
package struct GatewayConfig: Sendable, Equatable {
    package var broker: BrokerSettings
    /// Folder for the broker's durable state, resolved against the config file's folder.
    package var storage: String?
    /// Folders or files holding profiles, resolved against the config file's folder.
    package var profiles: [String]
    package var buses: [BusSettings]
    package var registries: [RegistrySettings]

    /// The bus called `id`.
    package func bus(_ id: String) -> BusSettings? { buses.first { $0.id == id } }
}

/// The embedded broker, or the upstream one.
package enum BrokerSettings: Sendable, Equatable {
    case embedded(listeners: [Listener], maximumMessageSize: Int)
    case upstream(Upstream)

    package struct Listener: Sendable, Equatable {
        package var host: String
        package var port: UInt16

        package init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }
    }

    package struct Upstream: Sendable, Equatable {
        package var host: String
        package var port: UInt16
        package var clientID: String
        package var username: String?
        package var password: String?
        package var keepAlive: Duration

        package init(host: String, port: UInt16, clientID: String, username: String?, password: String?, keepAlive: Duration) {
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
package struct BusSettings: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        /// `device` as written, or resolved against the config file's folder when relative (by `ConfigurationLoader`).
        case rtu(device: String, line: SerialLine)
        case tcp(host: String, port: UInt16)
        /// Simulated controllers answering as `units` on a pty created at start.
        case simulator(units: [UInt8], line: SerialLine)
    }

    /// Serial framing, as the gateway passes it to the line.
    package struct SerialLine: Sendable, Equatable {
        package var baud = BaudRate.b9600
        /// "none", "even" or "odd".
        package var parity = "none"
        package var dataBits = 8
        package var stopBits = 1
        /// "off", "on" or "auto".
        package var rs485 = "auto"

        package init(baud: BaudRate = .b9600, parity: String = "none", dataBits: Int = 8, stopBits: Int = 1, rs485: String = "auto") {
            self.baud = baud
            self.parity = parity
            self.dataBits = dataBits
            self.stopBits = stopBits
            self.rs485 = rs485
        }
    }

    package var id: String
    package var kind: Kind
    package var responseTimeout: Duration
    package var byteTimeout: Duration
    /// Nil: t3.5 for the line's baud (none on TCP).
    package var interFrameDelay: Duration?
}

/// A registry and its devices.
package struct RegistrySettings: Sendable, Equatable {
    package var id: String
    package var devices: [DeviceSettings]
}

/// One controller as a device of a registry, before its profile is resolved.
package struct DeviceSettings: Sendable, Equatable {
    package var id: String
    package var name: String
    package var bus: String
    package var unit: UInt8
    package var profile: String
    /// Changes to the profile for this device only (merged over the profile's JSON).
    package var overrides: JSONValue?
    /// Where the device sits in the config (`$.registries[0].devices[1]`), for messages.
    package var path: String
}
