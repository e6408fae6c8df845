import POSIX
import TLS

/// Connections on TLS listeners: the handshake inside the reactor (non-blocking, with its own
/// deadline), then decrypted bytes into the MQTT framer. The plain path never comes here.
extension BrokerCore {
    /// Gives a connection accepted on a TLS listener its server session; the CONNECT deadline
    /// is replaced by the handshake's until the handshake is done. False if OpenSSL could not
    /// make a session (the connection is then dropped).
    func startTLS(on connection: Connection, context: TLSContext, listener: Listener) -> Bool {
        do {
            connection.tls = TLSTransport(session: try context.makeServerConnection(), listener: listener.address)
        } catch {
            log(.warning, "accept_failed", ["listener": listener.address, "error": "\(error)"])
            return false
        }
        connection.phase = .awaitingConnect(deadline: clock.now.advanced(by: configuration.tlsHandshakeTimeout))
        return true
    }

    /// One read of ciphertext from the socket into the session, moving the handshake on or the
    /// plaintext into the framer. Answers as the framer's `read`: the bytes read from the socket
    /// and whether they filled the space (0: the client ended the stream), or nil when nothing
    /// was waiting or the connection was ended here.
    func readTLS(_ connection: Connection, _ tls: TLSTransport) throws(Errno) -> (count: Int, filledSpace: Bool)? {
        // close_notify came in an earlier read: the packets before it have been handled.
        if tls.session.state == .closed { return (0, false) }
        let space = 16_384  // one TLS record (RFC 8446 §5.1)
        let socket = connection.socket
        let received: Int?
        do {
            received = try withUnsafeTemporaryAllocation(byteCount: space, alignment: 1) { buffer in
                Result { () throws(Errno) -> Int? in
                    guard let count = try socket.read(into: buffer) else { return nil }
                    tls.session.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    return count
                }
            }.get()
        } catch {
            guard tls.isHandshaking else { throw error }
            failHandshake(connection, tls, reason: "read failed: \(error)")
            return nil
        }
        guard let count = received else { return nil }
        if count == 0 {
            guard tls.isHandshaking else { return (0, false) }
            failHandshake(connection, tls, reason: "the client closed the connection during the handshake")
            return nil
        }
        if tls.isHandshaking {
            let progress: TLSConnection.HandshakeProgress
            do {
                progress = try tls.session.handshake()
            } catch {
                failHandshake(connection, tls, reason: "\(error)")
                return nil
            }
            tls.collectOutput()
            if tls.pendingByteCount > 0 { scheduleFlush(connection) }
            guard progress == .done else { return (count, count == space) }
            tls.clientCertificate = tls.session.peerCertificate
            connection.phase = .awaitingConnect(deadline: clock.now.advanced(by: configuration.connectTimeout))
            connection.http?.deadline = clock.now.advanced(by: configuration.httpRequestTimeout)
        }
        do {
            if case let .data(plaintext) = try tls.session.read() {
                if let http = connection.http { http.receive(plaintext) } else { connection.framer.append(plaintext) }
            }
        } catch {
            tls.collectOutput()  // the alert, if OpenSSL made one
            close(connection, reason: "\(error)", publishWill: true)
            return nil
        }
        // After close_notify the next read reports the end, once these packets are handled.
        return (count, count == space || tls.session.state == .closed)
    }

    /// A handshake that failed or ran out of time: counted, logged (rate-limited), the alert
    /// OpenSSL produced sent, and the connection closed.
    func failHandshake(_ connection: Connection, _ tls: TLSTransport, reason: String) {
        statistics.tlsHandshakesFailed += 1
        logRefusal("tls_handshake_failed", ["address": connection.remoteAddress, "listener": tls.listener, "reason": reason])
        tls.collectOutput()
        close(connection, reason: "TLS handshake failed: \(reason)", publishWill: false)
    }
}
