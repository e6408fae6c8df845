import HTTP

/// What a connection on an HTTP listener is besides its socket: requests being read, or, after a
/// WebSocket upgrade at `/mqtt`, WebSocket frames carrying MQTT. Reactor thread only.
final class HTTPConnectionState {
    /// HTTP/1.1 requests, answered in order (keep-alive); nil once upgraded.
    var requests: HTTPRequestFramer?
    /// After the upgrade: WebSocket frames whose payloads are MQTT bytes (MQTT 3.1.1 section 6).
    var frames: WebSocketFramer?
    /// What the listener serves.
    let services: HTTPServices
    /// Until when the connection may stay as it is: idle between requests, or with a request
    /// that has not come whole. Not used once upgraded (MQTT's own deadlines apply).
    var deadline: ContinuousClock.Instant
    /// Whether `deadline` is a partial request's (set at its first byte, cleared when it is whole).
    var requestStarted = false
    /// A console login whose password is being checked: the requests behind it wait unread.
    var pendingLogin: PendingConsoleLogin?
    /// Answered a request with `Connection: close` (or an error): nothing more is read; the
    /// connection closes once the answer is written.
    var closeWhenFlushed = false
    /// The console login the WebSocket upgrade's session cookie proved: the entity a CONNECT
    /// without credentials logs in as.
    var webSocketEntity: String?
    /// The WebSocket upgrade came from another site's page (its `Origin` names another host):
    /// the listener's anonymous entity is not given to it.
    var webSocketFromOtherSite = false
    /// A close frame was sent (RFC 6455 section 5.5.1: only one).
    var sentClose = false

    init(services: HTTPServices, limits: HTTPLimits, deadline: ContinuousClock.Instant) {
        self.services = services
        self.requests = HTTPRequestFramer(limits: limits)
        self.deadline = deadline
    }

    var isWebSocket: Bool { frames != nil }

    /// Bytes from the socket (decrypted on TLS) into the framer of the current phase.
    func receive(_ bytes: some Collection<UInt8>) {
        if frames != nil { frames?.append(bytes) } else { requests?.append(bytes) }
    }

    /// Gives back framer memory on an idle connection.
    func releaseIdleBuffers() {
        requests?.releaseMemoryIfEmpty()
        frames?.releaseMemoryIfEmpty()
    }
}

/// A console `POST /login` whose password the login verifier is checking.
final class PendingConsoleLogin {
    let request: HTTPRequest
    let username: String

    init(request: HTTPRequest, username: String) {
        self.request = request
        self.username = username
    }
}
