import TLS

/// One address the broker accepts connections on: MQTT over TCP, or HTTP (MQTT over WebSocket,
/// the console, metrics).
package struct ListenerConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// Numeric IPv4 or IPv6 address ("127.0.0.1", "0.0.0.0", "::1", "::"), without brackets.
    package var host: String
    /// Port to listen on; 0 picks a free one (see `Broker.ports`).
    package var port: UInt16
    /// How connections on this listener are secured.
    package var security: ListenerSecurity
    /// Passwords are accepted on this listener without TLS (IOT-CORE.md allows it only where the
    /// listener is marked so: loopback, tests). The policy enforces it; the broker passes it on.
    package var insecure: Bool
    /// Clients that present no credentials at all (no user name, password or certificate) log in
    /// as this entity: for trusted local consumers on a loopback listener. Nil refuses them.
    package var anonymousEntity: String?
    /// What the listener speaks: MQTT (the default), or HTTP serving these services.
    package var kind: ListenerKind

    /// A listener on `host`:`port`.
    package init(host: String, port: UInt16, security: ListenerSecurity = .plain, insecure: Bool = false, anonymousEntity: String? = nil,
                 kind: ListenerKind = .mqtt) {
        self.host = host
        self.port = port
        self.security = security
        self.insecure = insecure
        self.anonymousEntity = anonymousEntity
        self.kind = kind
    }

    /// "host:port", with an IPv6 address in brackets ("[::1]:1883"), as errors and logs name it.
    package var description: String { Self.describe(host: host, port: port) }

    /// "host:port" for any address, bracketing IPv6 (RFC 3986 section 3.2.2).
    package static func describe(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses "HOST:PORT", "[IPV6]:PORT"; nil if it is neither.
    package init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = UInt16(portText) else { return nil }
        self.init(host: String(host), port: port)
    }
}

/// How a listener's connections are secured.
package enum ListenerSecurity: Sendable, Equatable {
    /// Plain TCP (MQTT 3.1.1 section 4.2).
    case plain
    /// TLS (MQTT 3.1.1 section 5.4.8) with this server context: its versions, certificate and
    /// client-certificate policy. The client's certificate reaches the policy at CONNECT as
    /// `ConnectChannel.tls(clientCertificate:)`.
    case tls(TLSContext)

    /// Two TLS listeners are equal when they share one context (contexts are not comparable).
    package static func == (left: ListenerSecurity, right: ListenerSecurity) -> Bool {
        switch (left, right) {
        case (.plain, .plain): true
        case let (.tls(one), .tls(other)): one === other
        default: false
        }
    }
}

/// What a listener speaks.
package enum ListenerKind: Sendable, Equatable {
    /// MQTT 3.1.1 over TCP (or TLS).
    case mqtt
    /// HTTP/1.1 (or over TLS), offering these services.
    case http(HTTPServices)
}
