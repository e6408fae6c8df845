import HTTP
import MQTT
import POSIX

/// HTTP listeners inside the reactor: requests read with limits and answered in order
/// (keep-alive), the console's login and logout (the registry's credentials, checked by the
/// policy as a CONNECT's are), the upgrade to MQTT over WebSocket at `/mqtt`, and everything else
/// handed to the gateway's `HTTPSite`.
extension BrokerCore {
    /// The session cookie's name.
    static let sessionCookie = "modbridge_session"

    /// Gives a connection accepted on an HTTP listener its HTTP state: its first request must
    /// come whole within the request timeout.
    func startHTTP(on connection: Connection, services: HTTPServices) {
        connection.http = HTTPConnectionState(services: services, limits: configuration.httpLimits,
                                              deadline: clock.now.advanced(by: configuration.httpRequestTimeout))
    }

    /// One read of a plain HTTP connection's socket into the framer of its phase. Answers as
    /// the MQTT framer's `read`.
    func readPlainHTTP(_ connection: Connection, _ http: HTTPConnectionState) throws(Errno) -> (count: Int, filledSpace: Bool)? {
        let space = 16_384
        let socket = connection.socket
        return try withUnsafeTemporaryAllocation(byteCount: space, alignment: 1) { buffer in
            Result { () throws(Errno) -> (count: Int, filledSpace: Bool)? in
                guard let count = try socket.read(into: buffer) else { return nil }
                http.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                return (count, count == space)
            }
        }.get()
    }

    /// Serves what an HTTP connection has received: its whole requests, in order, or once
    /// upgraded its frames' MQTT bytes into the MQTT framer. True if MQTT packets may follow
    /// (an open WebSocket); false when the connection's input is done for this turn.
    func serveHTTPInput(_ connection: Connection, _ http: HTTPConnectionState, work: inout Int) -> Bool {
        while connection.isOpen, !http.isWebSocket, !connection.isHeld {
            guard work < Self.workPerTurn else {
                if !connection.backlogged {
                    connection.backlogged = true
                    backlog.append(connection)
                }
                return false
            }
            let request: HTTPRequest?
            do {
                request = try http.requests?.next()
            } catch {
                refuseRequest(connection, http, error)
                return false
            }
            guard let request else {
                // Part of a request: it has the request timeout from its first byte to come whole.
                if !http.requestStarted, (http.requests?.bufferedCount ?? 0) > 0 {
                    http.requestStarted = true
                    http.deadline = clock.now.advanced(by: configuration.httpRequestTimeout)
                }
                return false
            }
            work += 1
            http.requestStarted = false
            http.deadline = clock.now.advanced(by: configuration.httpIdleTimeout)
            handle(request, on: connection, http)
        }
        guard connection.isOpen, http.isWebSocket else { return false }
        return unwrapFrames(connection, http)
    }

    private func handle(_ request: HTTPRequest, on connection: Connection, _ http: HTTPConnectionState) {
        let path = request.path
        if path == "/mqtt" && http.services.contains(.webSocket) {
            upgradeToWebSocket(request, on: connection, http)
            return
        }
        if http.services.contains(.console) && request.method == "POST" {
            if path == "/login" {
                startConsoleLogin(request, on: connection, http)
                return
            }
            if path == "/logout" {
                logOut(request, on: connection, http)
                return
            }
        }
        let context = HTTPRequestContext(login: consoleLogin(of: request).map(ConsoleLogin.init(entity:)), services: http.services,
                                         secure: connection.tls != nil, remoteAddress: connection.remoteAddress,
                                         passwordsAccepted: connection.channel != .plain(insecure: false))
        let response = site?.respond(to: request, context: context) ?? .text(.notFound, "not found\n")
        respond(response, to: request, on: connection, http)
    }

    /// Writes `response`; a request that ends its connection (or `close`) has the connection
    /// closed once the answer is written, and nothing more of it read.
    func respond(_ response: HTTPResponse, to request: HTTPRequest?, on connection: Connection, _ http: HTTPConnectionState, close: Bool = false) {
        let keepAlive = !close && (request?.keepAlive ?? false)
        connection.appendOutput { response.encode(into: &$0, keepAlive: keepAlive, omitBody: request?.method == "HEAD") }
        scheduleFlush(connection)
        if !keepAlive {
            http.closeWhenFlushed = true
            hold(connection)
        }
    }

    /// A request past the limits or the syntax: answered with its status, then the connection is
    /// closed (what follows it on the wire cannot be trusted to start a request).
    private func refuseRequest(_ connection: Connection, _ http: HTTPConnectionState, _ error: HTTPError) {
        statistics.protocolErrors += 1
        logRefusal("http_request_refused", ["address": connection.remoteAddress, "listener": connection.listener.address,
                                            "status": "\(error.status.code)", "reason": "\(error)"])
        respond(.text(error.status, "\(error)\n"), to: nil, on: connection, http, close: true)
    }

    /// A connection idle past its deadline, or whose request did not come whole in time.
    func expireHTTP(_ connection: Connection, _ http: HTTPConnectionState) {
        if http.requestStarted {
            respond(.text(.requestTimeout, "the request did not come whole within \(configuration.httpRequestTimeout)\n"),
                    to: nil, on: connection, http, close: true)
        }
        close(connection, reason: http.requestStarted ? "HTTP request timeout" : "idle HTTP connection", publishWill: false)
    }

    /// Whether a browser's `Origin` (sent on every POST and WebSocket upgrade) is this server:
    /// requests another site's page makes with the console's cookie are refused (cross-site
    /// request forgery, cross-site WebSocket hijacking). A request without `Origin` is not a
    /// browser's cross-site request.
    func isSameOrigin(_ request: HTTPRequest, secure: Bool) -> Bool {
        guard let origin = request.headers["Origin"] else { return true }
        guard let host = request.headers["Host"] else { return false }
        return origin.lowercased() == (secure ? "https://" : "http://") + host.lowercased()
    }

    /// Whether the request's `Origin`, if any, names the host and port it was sent to, whatever
    /// the scheme: non-browser clients (paho-mqtt sends `https://host:port` over plain ws too)
    /// pass, a page of another site (or `Origin: null`) does not.
    func isSameHost(_ request: HTTPRequest) -> Bool {
        guard let origin = request.headers["Origin"] else { return true }
        guard let host = request.headers["Host"], let separator = origin.firstRange(of: "://") else { return false }
        return origin[separator.upperBound...].lowercased() == host.lowercased()
    }
}
