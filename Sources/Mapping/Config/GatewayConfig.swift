import Serial

/// The gateway config (`modbridge.json`), validated; profiles are resolved by `ConfigurationLoader`.
package struct GatewayConfig: Sendable, Equatable {
    package var broker: BrokerSettings
    /// Folder for the broker's durable state, resolved against the config file's folder.
    package var storage: String?
    /// Folders or files holding profiles, resolved against the config file's folder.
    package var profiles: [String]
    /// Empty for a config that is a pure IoT Core (no Modbus devices).
    package var buses: [BusSettings]
    package var registries: [RegistrySettings]
    /// `broker.messagesPerSecond`: messages a device or registry may publish each second; nil is no limit.
    package var messagesPerSecond: Int?

    /// The bus called `id`.
    package func bus(_ id: String) -> BusSettings? { buses.first { $0.id == id } }
}

/// One serial line, Modbus TCP endpoint, or simulated line.
package struct BusSettings: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        /// `device` as written, or resolved against the config file's folder when relative (by `ConfigurationLoader`).
        case rtu(device: String, line: SerialLine)
        case tcp(host: String, port: UInt16)
        /// RTU frames over TCP to a serial device server in transparent mode.
        case rtuOverTCP(host: String, port: UInt16)
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
        /// "rtu" or "ascii" (Modbus over Serial Line §2.5).
        package var framing = "rtu"

        package init(baud: BaudRate = .b9600, parity: String = "none", dataBits: Int = 8, stopBits: Int = 1, rs485: String = "auto",
                     framing: String = "rtu") {
            self.baud = baud
            self.parity = parity
            self.dataBits = dataBits
            self.stopBits = stopBits
            self.rs485 = rs485
            self.framing = framing
        }
    }

    package var id: String
    package var kind: Kind
    package var responseTimeout: Duration
    package var byteTimeout: Duration
    /// Nil: t3.5 for the line's baud on RTU, 2 ms on ASCII, none on TCP and RTU over TCP.
    package var interFrameDelay: Duration?
    /// Every request and answer of the bus goes to the log (`bus_trace`), from start.
    package var trace = false
    /// A simulator bus takes the time a real line at its settings would: requests and answers at
    /// its character times, t3.5 and a device's turnaround (false: it answers at once).
    package var simulatedCharacterTimes = true
    /// The bus's Modbus TCP server for vendor tools, if it has one.
    package var server: BusServerSettings? = nil
}

/// A registry and its devices.
package struct RegistrySettings: Sendable, Equatable {
    package var id: String
    /// 3–63 of lowercase letters, digits and '-'; the id when not given.
    package var name: String
    /// A disabled registry and all its devices are refused at CONNECT.
    package var disabled: Bool
    package var credentials: CredentialSettings
    package var devices: [DeviceSettings]
    /// Where the registry sits in the config (`$.registries[0]`), for messages.
    package var path: String
}

/// One device of a registry: a Modbus controller the gateway polls (with `modbus`), or an MQTT
/// device that connects on its own (without).
package struct DeviceSettings: Sendable, Equatable {
    package var id: String
    package var name: String
    /// Topic prefixes standing for `$devices/<id>/`, each ending in "/" (at most 5).
    package var aliases: [String]
    /// The JSON path of each alias, in the same order.
    package var aliasPaths: [String]
    package var credentials: CredentialSettings
    /// The bus, unit and profile of a polled controller; nil for an MQTT device.
    package var modbus: ModbusBinding?
    /// A polled device's login on its per-device upstream connection; nil: none given (user name = id).
    package var upstream: UpstreamCredentials?
    /// Where the device sits in the config (`$.registries[0].devices[1]`), for messages.
    package var path: String

    /// The user name of its per-device upstream connection: the one given, else the device id.
    package var upstreamUsername: String { upstream?.username ?? id }
}

/// Where a polled device sits on the Modbus side, before its profile is resolved.
package struct ModbusBinding: Sendable, Equatable {
    package var bus: String
    package var unit: UInt8
    package var profile: String
    /// Changes to the profile for this device only (merged over the profile's JSON).
    package var overrides: JSONValue?
}

/// An entity's credentials as written in the config: checked for shape here, turned into hashes
/// and fingerprints by the gateway (which has the TLS module).
package struct CredentialSettings: Sendable, Equatable {
    /// A password hash string (`$pbkdf2-sha256$...`), as written, with its JSON path.
    package struct Password: Sendable, Equatable {
        package var hash: String
        package var path: String

        package init(hash: String, path: String) {
            self.hash = hash
            self.path = path
        }
    }

    /// A certificate: a PEM file (resolved against the config file's folder) or a fingerprint.
    package struct Certificate: Sendable, Equatable {
        package enum Source: Sendable, Equatable {
            case file(String)
            /// Lowercase hex without colons: 64 digits (SHA-256) or 40 (legacy SHA-1).
            case fingerprint(String)
        }

        package var source: Source
        package var path: String

        package init(source: Source, path: String) {
            self.source = source
            self.path = path
        }
    }

    package var passwords: [Password]
    package var certificates: [Certificate]

    package init(passwords: [Password] = [], certificates: [Certificate] = []) {
        self.passwords = passwords
        self.certificates = certificates
    }
}
