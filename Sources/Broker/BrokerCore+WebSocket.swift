import HTTP
import MQTT
import POSIX
import TLS

/// MQTT over WebSocket (MQTT 3.1.1 section 6, RFC 6455): the opening handshake at `/mqtt` with
/// subprotocol `mqtt`, then binary frames whose payloads are MQTT bytes, fed to the same MQTT
/// framer as a TCP connection's; the logins, rules and limits are MQTT over TCP's.
extension BrokerCore {
    func upgradeToWebSocket(_ request: HTTPRequest, on connection: Connection, _ http: HTTPConnectionState) {
        let offered = request.headers.values("Sec-WebSocket-Protocol").flatMap { $0.split(separator: ",") }.map { String($0.trimmingSpaces) }
        // MQTT 3.1.1 section 6.0: the subprotocol is "mqtt". A client that offers none is served
        // (some libraries omit it); one that offers only others is not speaking MQTT.
        guard offered.isEmpty || offered.contains("mqtt") else {
            respond(.text(.badRequest, "WebSocket subprotocol \"mqtt\" is required (MQTT 3.1.1 section 6)\n"), to: request, on: connection, http, close: true)
            return
        }
        let (response, accepted) = WebSocketHandshake.response(to: request, subprotocol: "mqtt", sha1: { (try? Digests.sha1($0)) ?? [] },
                                                               base64: Base64.encodePadded)
        guard accepted else {
            respond(response, to: request, on: connection, http, close: true)
            return
        }
        var entity: String?
        if let token = request.cookie(Self.sessionCookie) {
            guard isSameOrigin(request, secure: connection.tls != nil) else {
                respond(.text(.forbidden, "a WebSocket with the console's cookie from another site's page is refused\n"),
                        to: request, on: connection, http, close: true)
                return
            }
            entity = consoleSessions.entity(for: token, now: clock.now)
        }
        connection.appendOutput { response.encode(into: &$0, keepAlive: true) }
        connection.sealOutputBeforeUpgrade()
        // Bytes after the upgrade request are already frames.
        let early = http.requests?.takeRemaining() ?? []
        http.requests = nil
        http.frames = WebSocketFramer(maximumPayload: configuration.maximumPacketSize)
        http.frames?.append(early)
        http.webSocketEntity = entity
        // Browsers let any page open a WebSocket to any host (no same-origin rule for them), so a
        // page of another site in an operator's browser could reach a loopback listener; it gets
        // no anonymous login there (cross-site WebSocket hijacking), only what credentials allow.
        http.webSocketFromOtherSite = !isSameHost(request)
        if http.webSocketFromOtherSite, connection.listener.settings.anonymousEntity != nil {
            log(.info, "websocket_from_other_site", ["address": connection.remoteAddress, "origin": request.headers["Origin"] ?? "-",
                                                     "note": "no anonymous login for it"])
        }
        connection.phase = .awaitingConnect(deadline: clock.now.advanced(by: configuration.connectTimeout))
        scheduleFlush(connection)
    }

    /// Whom a CONNECT without credentials logs in as: the console session the upgrade's cookie
    /// proved, else the listener's anonymous entity, unless the upgrade came from another site.
    func anonymousEntity(of connection: Connection) -> String? {
        guard let http = connection.http else { return connection.listener.settings.anonymousEntity }
        if let entity = http.webSocketEntity { return entity }
        return http.webSocketFromOtherSite ? nil : connection.listener.settings.anonymousEntity
    }

    /// The frames received, in order: data into the MQTT framer, pings answered, a close echoed
    /// and the connection ended. True while the connection stays open.
    func unwrapFrames(_ connection: Connection, _ http: HTTPConnectionState) -> Bool {
        while connection.isOpen {
            let frame: WebSocketFrame?
            do {
                frame = try http.frames?.next()
            } catch {
                closeWebSocket(connection, http, code: error.closeCode, reason: "WebSocket protocol error: \(error)")
                return false
            }
            guard let frame else { return true }
            switch frame.opcode {
            case .binary, .continuation:
                connection.framer.append(frame.payload)
            case .text:
                // MQTT-6.0.0-1: MQTT travels in binary frames; any other data frame closes the connection.
                closeWebSocket(connection, http, code: 1003, reason: "MQTT over WebSocket takes binary frames only")
                return false
            case .ping:
                var pong: [UInt8] = []
                WebSocketFrame.encode(opcode: .pong, payload: frame.payload, into: &pong)
                connection.appendWebSocketBytes(pong)
                scheduleFlush(connection)
            case .pong:
                continue
            case .close:
                // Section 5.5.1: answer with a close frame, then end (the client ended the
                // network connection without DISCONNECT: its will is published, 3.1.2.5).
                if !http.sentClose {
                    http.sentClose = true
                    let code: UInt16 = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : 1000
                    connection.appendWebSocketBytes(Connection.closeFrame(code: code == 1005 ? 1000 : code, reason: ""))
                }
                close(connection, reason: "WebSocket closed by the client", publishWill: true)
                return false
            }
        }
        return false
    }

    /// Sends a close frame with `code` and ends the connection (a protocol error: counted).
    private func closeWebSocket(_ connection: Connection, _ http: HTTPConnectionState, code: UInt16, reason: String) {
        statistics.protocolErrors += 1
        if !http.sentClose {
            http.sentClose = true
            connection.appendWebSocketBytes(Connection.closeFrame(code: code, reason: ""))
        }
        close(connection, reason: reason, publishWill: true)
    }
}
