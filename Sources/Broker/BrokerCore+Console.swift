import HTTP
import MQTT
import POSIX
import TLS

/// The console's logins: `POST /login` with the registry credentials of a registry or device,
/// checked by the policy exactly as a CONNECT's user name and password (the same rules, the same
/// slow hash on the verifier's thread, the same refusal counters); a session cookie proves the
/// login to the site's pages and to the console's WebSocket MQTT connection.
extension BrokerCore {
    /// The entity the request's session cookie proves, if it is a live session.
    func consoleLogin(of request: HTTPRequest) -> String? {
        guard let token = request.cookie(Self.sessionCookie) else { return nil }
        return consoleSessions.entity(for: token, now: clock.now)
    }

    func startConsoleLogin(_ request: HTTPRequest, on connection: Connection, _ http: HTTPConnectionState) {
        guard isSameOrigin(request, secure: connection.tls != nil) else {
            respond(.text(.forbidden, "a login from another site's page is refused\n"), to: request, on: connection, http)
            return
        }
        let form = request.bodyForm
        guard let username = form["username"], !username.isEmpty, let password = form["password"] else {
            respond(.redirect(to: "/login?failed=1"), to: request, on: connection, http)
            return
        }
        let login = ConnectRequest(clientID: "console-\(connection.token)", username: username, password: Array(password.utf8),
                                   remoteAddress: connection.remoteAddress, channel: connection.channel)
        switch policy.authenticate(login) {
        case let .decided(authentication):
            finishConsoleLogin(PendingConsoleLogin(request: request, username: username), authentication, on: connection, http)
        case let .verify(check):
            guard verifier.submit(token: connection.token, check) else {
                respond(.text(.serviceUnavailable, "too many logins wait for their check; try again\n"), to: request, on: connection, http)
                return
            }
            // The requests behind this one wait unread until it is answered (answers go in order).
            http.pendingLogin = PendingConsoleLogin(request: request, username: username)
            hold(connection)
        }
    }

    /// The answer to a login once the policy has decided: a session cookie and the console, or
    /// the login page again.
    func finishConsoleLogin(_ pending: PendingConsoleLogin, _ authentication: Authentication, on connection: Connection, _ http: HTTPConnectionState) {
        let secure = connection.tls != nil
        switch authentication {
        case let .accepted(identity, _):
            let entity = identity.username ?? pending.username
            let token: [UInt8]
            do {
                token = try Digests.randomBytes(32)
            } catch {
                respond(.text(.internalServerError, "no random bytes for a session: \(error)\n"), to: pending.request, on: connection, http)
                return
            }
            let value = Hex.lowercase(token)
            consoleSessions.start(token: value, entity: entity, now: clock.now)
            log(.info, "console_login", ["entity": entity, "address": connection.remoteAddress])
            var response = HTTPResponse.redirect(to: "/")
            response.headers.add("Set-Cookie", "\(Self.sessionCookie)=\(value); Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : ""))
            respond(response, to: pending.request, on: connection, http)
        case let .refused(code, refusal):
            statistics.loginsRefused += 1
            recordActivity(.loginRefused(clientID: "console", remoteAddress: connection.remoteAddress, refusal))
            logRefusal("console_login_refused", ["address": connection.remoteAddress, "entity": refusal.entity ?? "-",
                                                 "reason": refusal.reason, "return_code": "\(code.rawValue)"])
            respond(.redirect(to: "/login?failed=1"), to: pending.request, on: connection, http)
        }
    }

    func logOut(_ request: HTTPRequest, on connection: Connection, _ http: HTTPConnectionState) {
        guard isSameOrigin(request, secure: connection.tls != nil) else {
            respond(.text(.forbidden, "a logout from another site's page is refused\n"), to: request, on: connection, http)
            return
        }
        if let token = request.cookie(Self.sessionCookie), let entity = consoleSessions.entity(for: token, now: clock.now) {
            consoleSessions.end(token: token)
            log(.info, "console_logout", ["entity": entity, "address": connection.remoteAddress])
        }
        var response = HTTPResponse.redirect(to: "/login")
        response.headers.add("Set-Cookie", "\(Self.sessionCookie)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (connection.tls != nil ? "; Secure" : ""))
        respond(response, to: request, on: connection, http)
    }
}
