import HTTP

/// What an HTTP listener serves besides what the broker answers itself (MQTT over WebSocket at
/// `/mqtt`, the console's `POST /login` and `POST /logout`): the gateway's console pages, its
/// API, `/metrics` and `/healthz`.
package protocol HTTPSite: Sendable {
    /// Answers `request` on the broker's reactor thread: it must return quickly and never block
    /// (read snapshots, render, return).
    func respond(to request: HTTPRequest, context: HTTPRequestContext) -> HTTPResponse
}

/// What an HTTP listener offers (`"serve"` in the config); each is off unless listed.
package struct HTTPServices: OptionSet, Sendable, Hashable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    /// MQTT over WebSocket at `/mqtt` (subprotocol `mqtt`), with the logins and rules of MQTT over TCP.
    package static let webSocket = HTTPServices(rawValue: 1 << 0)
    /// The web console: its login, pages and API.
    package static let console = HTTPServices(rawValue: 1 << 1)
    /// `/metrics` (Prometheus text) and `/healthz`, without login.
    package static let metrics = HTTPServices(rawValue: 1 << 2)

    package static let all: HTTPServices = [.webSocket, .console, .metrics]
}

/// Who asks and through what, as the site sees a request.
package struct HTTPRequestContext: Sendable, Equatable {
    /// The console login the request's session cookie proves; nil without a valid one.
    package var login: ConsoleLogin?
    /// What the listener that took the request serves.
    package var services: HTTPServices
    /// Whether the connection is TLS (cookies are then `Secure`).
    package var secure: Bool
    /// The client's address, for logs.
    package var remoteAddress: String
    /// Whether a password may be checked on this connection: TLS, or a listener marked
    /// `insecure`. Otherwise the console's login is refused whatever the password.
    package var passwordsAccepted: Bool

    package init(login: ConsoleLogin?, services: HTTPServices, secure: Bool, remoteAddress: String, passwordsAccepted: Bool) {
        self.login = login
        self.services = services
        self.secure = secure
        self.remoteAddress = remoteAddress
        self.passwordsAccepted = passwordsAccepted
    }
}

/// A console session: the registry entity (a registry or device id) that logged in with its
/// registry credentials, as the MQTT policy checked them.
package struct ConsoleLogin: Sendable, Equatable {
    /// The registry or device id the credentials belong to.
    package var entity: String

    package init(entity: String) {
        self.entity = entity
    }
}
