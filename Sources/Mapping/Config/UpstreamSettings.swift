extension BrokerSettings {
    /// `broker.upstream`: the external broker the devices' messages go to (modes upstream and
    /// both), validated; file paths resolved against the config file's folder and `passwordFile`
    /// read by `ConfigurationLoader`.
    package struct Upstream: Sendable, Equatable {
        package var host: String
        package var port: UInt16
        /// `mqtts://`: TLS with server verification and host-name check.
        package var tls: Bool
        /// CA certificates (PEM) the server's certificate must chain to; nil: the system's trust store.
        package var ca: String?
        /// The name checked in the server's certificate (and sent as SNI); nil: `host`.
        package var serverName: String?
        /// The shared connection's client certificate chain and key (PEM); both or neither, mqtts only.
        package var certificate: String?
        package var key: String?
        /// The shared connection's login; a password needs a user name (MQTT 3.1.1 §3.1.2.9).
        package var username: String?
        /// Given inline, or the first line of `passwordFile` once loaded.
        package var password: String?
        /// Where the password was read from (resolved), if it came from a file.
        package var passwordFile: String?
        /// The shared connection's client id; per-device connections use the device id.
        package var clientID: String
        package var keepAlive: Duration
        package var cleanSession: Bool
        package var connection: UpstreamConnectionStyle
        /// Root template of a device's topics upstream, `{id}` once as a whole level.
        package var deviceTopic: String
        /// Root template of a registry's topics upstream, `{id}` once as a whole level.
        package var registryTopic: String
        package var queue: UpstreamQueueSettings
        /// The same command (request id, device) arriving locally and upstream within this runs once.
        package var commandDedupWindow: Duration
        /// The first reconnect delay; it doubles up to `reconnectMaximum`.
        package var reconnectInitial: Duration
        package var reconnectMaximum: Duration
        /// Where it sits in the config, for messages.
        package var path: String

        package static let defaultDeviceTopic = "$devices/{id}"
        package static let defaultRegistryTopic = "$registries/{id}"

        package init(host: String, port: UInt16, tls: Bool = false, ca: String? = nil, serverName: String? = nil,
                     certificate: String? = nil, key: String? = nil, username: String? = nil, password: String? = nil,
                     passwordFile: String? = nil, clientID: String = "modbridge", keepAlive: Duration = .seconds(60),
                     cleanSession: Bool = false, connection: UpstreamConnectionStyle = .perDevice,
                     deviceTopic: String = defaultDeviceTopic, registryTopic: String = defaultRegistryTopic,
                     queue: UpstreamQueueSettings = UpstreamQueueSettings(), commandDedupWindow: Duration = .seconds(600),
                     reconnectInitial: Duration = .seconds(1), reconnectMaximum: Duration = .seconds(60),
                     path: String = "$.broker.upstream") {
            self.host = host
            self.port = port
            self.tls = tls
            self.ca = ca
            self.serverName = serverName
            self.certificate = certificate
            self.key = key
            self.username = username
            self.password = password
            self.passwordFile = passwordFile
            self.clientID = clientID
            self.keepAlive = keepAlive
            self.cleanSession = cleanSession
            self.connection = connection
            self.deviceTopic = deviceTopic
            self.registryTopic = registryTopic
            self.queue = queue
            self.commandDedupWindow = commandDedupWindow
            self.reconnectInitial = reconnectInitial
            self.reconnectMaximum = reconnectMaximum
            self.path = path
        }
    }
}

/// How the gateway's devices reach the upstream broker (`broker.upstream.connection`).
package enum UpstreamConnectionStyle: String, Sendable, Equatable {
    /// One connection per polled device, logged in as that device (client id and, by default,
    /// user name = device id; its own password or certificate).
    case perDevice = "per-device"
    /// One connection for the whole gateway, with `Upstream.clientID` and its credentials.
    case shared
}

/// `broker.upstream.queue`: the store-and-forward queue of each upstream connection.
package struct UpstreamQueueSettings: Sendable, Equatable {
    /// Oldest messages are dropped past this many bytes (per connection).
    package var maximumBytes: Int
    /// Messages older than this are dropped.
    package var maximumAge: Duration
    /// Backlog messages replayed per second after a reconnect; 0: no cap.
    package var replayRate: Int
    /// How often what was written is fdatasync'ed (what a power cut may lose).
    package var sync: Duration

    package init(maximumBytes: Int = 64 << 20, maximumAge: Duration = .seconds(7 * 86_400), replayRate: Int = 1000,
                 sync: Duration = .seconds(1)) {
        self.maximumBytes = maximumBytes
        self.maximumAge = maximumAge
        self.replayRate = replayRate
        self.sync = sync
    }
}

/// A polled device's own login on its per-device upstream connection (`devices[].upstream`).
package struct UpstreamCredentials: Sendable, Equatable {
    /// Nil: the device id.
    package var username: String?
    /// Given inline, or the first line of `passwordFile` once loaded.
    package var password: String?
    /// Where the password was read from (resolved), if it came from a file.
    package var passwordFile: String?
    /// Client certificate chain and key (PEM, resolved); both or neither, mqtts only.
    package var certificate: String?
    package var key: String?
    /// Where it sits in the config (`$.registries[0].devices[1].upstream`), for messages.
    package var path: String

    package init(username: String? = nil, password: String? = nil, passwordFile: String? = nil, certificate: String? = nil,
                 key: String? = nil, path: String) {
        self.username = username
        self.password = password
        self.passwordFile = passwordFile
        self.certificate = certificate
        self.key = key
        self.path = path
    }
}
