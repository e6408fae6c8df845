/// The embedded broker, the upstream one, or both at once (`broker.mode`).
package enum BrokerSettings: Sendable, Equatable {
    /// `broker.maxMessageSize` when not given.
    package static let defaultMaximumMessageSize = 262_144

    /// The broker runs in-process; nothing goes to another broker.
    case embedded(listeners: [Listener], maximumMessageSize: Int)
    /// No embedded broker: every device's topics are on `Upstream`. `listeners` are HTTP
    /// listeners serving `/metrics` and `/healthz` only (no MQTT, console or WebSocket: those
    /// need the embedded broker's topics).
    case upstream(Upstream, listeners: [Listener])
    /// The embedded broker with its listeners and, beside it, a copy of every device's messages
    /// upstream: local consumers keep working while the upstream link is down.
    case both(listeners: [Listener], maximumMessageSize: Int, upstream: Upstream)

    /// The listeners opened: the embedded broker's, or in upstream mode the metrics listeners.
    package var listeners: [Listener] {
        switch self {
        case let .embedded(listeners, _), let .both(listeners, _, _), let .upstream(_, listeners): listeners
        }
    }

    /// Whether devices' topics are on the embedded broker (modes embedded and both).
    package var hasEmbeddedBroker: Bool {
        if case .upstream = self { return false }
        return true
    }

    /// The upstream broker, in modes upstream and both.
    package var upstream: Upstream? {
        switch self {
        case .embedded: nil
        case let .upstream(upstream, _), let .both(_, _, upstream): upstream
        }
    }

    /// The embedded broker's largest PUBLISH; the default in upstream mode (no embedded broker).
    package var maximumMessageSize: Int {
        switch self {
        case let .embedded(_, size), let .both(_, size, _): size
        case .upstream: Self.defaultMaximumMessageSize
        }
    }

    /// The same mode with `listeners` instead.
    func replacingListeners(_ listeners: [Listener]) -> BrokerSettings {
        switch self {
        case let .embedded(_, size): .embedded(listeners: listeners, maximumMessageSize: size)
        case let .both(_, size, upstream): .both(listeners: listeners, maximumMessageSize: size, upstream: upstream)
        case let .upstream(upstream, _): .upstream(upstream, listeners: listeners)
        }
    }

    /// The same mode with `upstream` instead (no change in embedded mode).
    func replacingUpstream(_ upstream: Upstream) -> BrokerSettings {
        switch self {
        case .embedded: self
        case let .upstream(_, listeners): .upstream(upstream, listeners: listeners)
        case let .both(listeners, size, _): .both(listeners: listeners, maximumMessageSize: size, upstream: upstream)
        }
    }

    package struct Listener: Sendable, Equatable {
        package var host: String
        package var port: UInt16
        /// Passwords are accepted without TLS (loopback, tests).
        package var insecure: Bool
        /// The server certificate and key of a TLS listener, resolved against the config file's folder.
        package var tls: TLSFiles?
        /// The registry or device id that clients with no credentials at all log in as (trusted
        /// local consumers); nil refuses them.
        package var anonymousAs: String?
        /// An HTTP listener (`"protocol": "http"`): what it serves; nil for MQTT.
        package var http: HTTPServe?
        /// Where the listener sits in the config (`$.broker.listeners[0]`), for messages.
        package var path: String

        package init(host: String, port: UInt16, insecure: Bool = false, tls: TLSFiles? = nil, anonymousAs: String? = nil,
                     http: HTTPServe? = nil, path: String = "$.broker.listeners[0]") {
            self.http = http
            self.host = host
            self.port = port
            self.insecure = insecure
            self.anonymousAs = anonymousAs
            self.tls = tls
            self.path = path
        }
    }

    /// What an HTTP listener serves (`"serve"`: all three unless listed).
    package struct HTTPServe: Sendable, Equatable {
        /// MQTT over WebSocket at /mqtt.
        package var webSocket: Bool
        /// The web console.
        package var console: Bool
        /// /metrics and /healthz.
        package var metrics: Bool

        package init(webSocket: Bool = true, console: Bool = true, metrics: Bool = true) {
            self.webSocket = webSocket
            self.console = console
            self.metrics = metrics
        }
    }

    /// A TLS listener's certificate chain and private key files (PEM).
    package struct TLSFiles: Sendable, Equatable {
        package var certificate: String
        package var key: String

        package init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }
}
