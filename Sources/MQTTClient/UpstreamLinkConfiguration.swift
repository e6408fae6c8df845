import MQTT
import TLS

/// A message a link publishes; `token` is the source's (the queue sequence), echoed on acknowledgement.
package struct OutboundMessage: Sendable, Equatable {
    package var token: UInt64
    package var topic: String
    package var payload: [UInt8]
    package var qos: QoS
    package var retain: Bool

    package init(token: UInt64, topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = false) {
        self.token = token
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// Reconnect timing: the delay doubles from `initialDelay` up to `maximumDelay`, each one moved
/// by up to ± `jitter` of itself so that many links cut at once do not come back at once.
package struct ReconnectPolicy: Sendable, Equatable {
    package var initialDelay: Duration = .seconds(1)
    package var maximumDelay: Duration = .seconds(60)
    /// ± fraction of each delay.
    package var jitter: Double = 0.25
    /// A connection that stayed up this long counts as healthy: the next delay starts again at `initialDelay`.
    package var stableAfter: Duration = .seconds(30)

    package init(initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(60), jitter: Double = 0.25,
                 stableAfter: Duration = .seconds(30)) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.jitter = jitter
        self.stableAfter = stableAfter
    }
}

/// One upstream connection's settings.
package struct UpstreamLinkConfiguration: Sendable {
    /// For logs: the device id or "shared".
    package var name: String
    package var host: String
    package var port: UInt16
    /// nil: plain TCP; else a client context (CA, client certificate).
    package var tls: TLSContext?
    /// SNI and the name checked in the server's certificate; default `host`.
    package var serverName: String?
    /// Client id, user name, password, keep-alive, clean session.
    package var connect: Connect
    /// Sent after every CONNACK.
    package var subscriptions: [Subscription]
    /// For each of the TCP connection (with DNS), the TLS handshake and CONNACK.
    package var connectTimeout: Duration = .seconds(10)
    package var reconnect = ReconnectPolicy()
    /// QoS 1 PUBLISH not yet acknowledged.
    package var maximumInFlight: Int = 64

    package init(name: String, host: String, port: UInt16, tls: TLSContext? = nil, serverName: String? = nil, connect: Connect,
                 subscriptions: [Subscription] = [], connectTimeout: Duration = .seconds(10), reconnect: ReconnectPolicy = ReconnectPolicy(),
                 maximumInFlight: Int = 64) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.serverName = serverName
        self.connect = connect
        self.subscriptions = subscriptions
        self.connectTimeout = connectTimeout
        self.reconnect = reconnect
        self.maximumInFlight = maximumInFlight
    }

    /// "host:port" as logs and errors name the server.
    package var server: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
