import Mapping
import MQTT
import MQTTClient
import TLS

/// How one upstream connection logs in.
package struct UpstreamLogin: Sendable {
    package var clientID: String
    package var username: String?
    package var password: [UInt8]?
    /// The connection's own TLS client context (a device with its own certificate); nil: the plan's.
    package var tls: TLSContext?

    package init(clientID: String, username: String? = nil, password: [UInt8]? = nil, tls: TLSContext? = nil) {
        self.clientID = clientID
        self.username = username
        self.password = password
        self.tls = tls
    }
}

/// The upstream side of a loaded config: the settings, the topic layout upstream, and what was
/// built from files (TLS contexts, passwords) by `RegistryLoader`.
package struct UpstreamPlan: Sendable {
    package var settings: BrokerSettings.Upstream
    package var layout: TopicLayout
    /// The client context of an `mqtts://` broker (its CA or the system's; the shared connection's
    /// certificate); nil for `mqtt://`.
    package var tls: TLSContext?
    /// The `shared` connection's login.
    package var sharedLogin: UpstreamLogin
    /// Each polled device's login on its own connection (`per-device`), by device id.
    package var deviceLogins: [String: UpstreamLogin]

    /// The broker as the config names it: `mqtts://host:port`.
    package var url: String {
        let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        return "\(settings.tls ? "mqtts" : "mqtt")://\(host):\(settings.port)"
    }

    /// The link settings of one connection.
    func linkConfiguration(name: String, login: UpstreamLogin, subscriptions: [Subscription]) -> UpstreamLinkConfiguration {
        let keepAlive = UInt16(clamping: settings.keepAlive.components.seconds)
        let connect = Connect(clientIdentifier: login.clientID, cleanSession: settings.cleanSession, keepAlive: keepAlive,
                              username: login.username, password: login.password)
        return UpstreamLinkConfiguration(name: name, host: settings.host, port: settings.port, tls: login.tls ?? tls,
                                         serverName: settings.serverName, connect: connect, subscriptions: subscriptions,
                                         reconnect: ReconnectPolicy(initialDelay: settings.reconnectInitial,
                                                                    maximumDelay: settings.reconnectMaximum))
    }
}
