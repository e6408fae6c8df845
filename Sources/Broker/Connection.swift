import HTTP
import MQTT
import POSIX

/// One client socket and what the reactor knows about it: the one owner of the socket.
/// Reactor thread only.
final class Connection {
    enum Phase {
        /// Accepted; the first packet must be CONNECT before `deadline`.
        case awaitingConnect(deadline: ContinuousClock.Instant)
        /// CONNECT accepted.
        case connected
        /// Ended for the protocol: nothing more is read or handled; the socket stays open until
        /// the end of the reactor's turn, so that the answers already owed can still leave.
        case closing
        /// Closed; nothing more is read or written.
        case closed
    }

    let token: UInt64
    let socket: Socket
    let remoteAddress: String
    /// The listener that accepted it (it outlives every connection: the reactor owns both).
    unowned let listener: Listener
    var phase: Phase
    var framer: MQTTFramer
    /// The TLS session on a TLS listener (nil on a plain one): input is decrypted through it
    /// before the framer, output encrypted through it at flush.
    var tls: TLSTransport?
    /// On an HTTP listener: its requests, or its WebSocket frames once upgraded (nil on MQTT listeners).
    var http: HTTPConnectionState?
    /// Bytes waiting for the socket to take them (plaintext; a TLS session encrypts them at flush).
    /// On a WebSocket they are MQTT bytes, put into a binary frame at flush.
    private(set) var output = OutputBuffer()
    /// A WebSocket's frames (and before them the 101 answer) not written yet.
    private var webSocketOutput = OutputBuffer()
    /// Whether epoll watches this socket for writability (only while output is pending).
    var watchingWritable = false
    /// Queued for a flush at the end of the reactor's turn.
    var flushScheduled = false
    /// Queued to be closed at the end of the reactor's turn.
    var closeScheduled = false
    /// Whole packets wait in the framer for a later turn (the reactor's backlog holds it).
    var backlogged = false
    /// The reactor turn in which this connection's packets were last handled.
    var servedInTurn: UInt64 = 0
    var session: Session?
    var will: Will?
    /// Set while the CONNECT's credentials are checked off the reactor thread.
    var verifying: PendingConnect?
    /// Set while the client's message rate holds it back: its packets wait until then.
    var pausedUntil: ContinuousClock.Instant?
    /// Seconds from CONNECT; 0 is off.
    var keepAlive: UInt16 = 0
    var lastReceived: ContinuousClock.Instant

    init(token: UInt64, socket: Socket, remoteAddress: String, listener: Listener, maximumPacketSize: Int,
         now: ContinuousClock.Instant, connectTimeout: Duration) {
        self.token = token
        self.socket = socket
        self.remoteAddress = remoteAddress
        self.listener = listener
        self.framer = MQTTFramer(maximumPacketSize: maximumPacketSize)
        self.phase = .awaitingConnect(deadline: now.advanced(by: connectTimeout))
        self.lastReceived = now
    }

    /// Still served: packets are read and handled, output is flushed.
    var isOpen: Bool {
        switch phase {
        case .awaitingConnect, .connected: true
        case .closing, .closed: false
        }
    }

    /// How the client reached the broker, as the policy sees it at CONNECT. Worked out when asked
    /// rather than stored: thousands of idle connections each carry only the listener's reference.
    var channel: ConnectChannel {
        if let tls { return .tls(clientCertificate: tls.clientCertificate) }
        return .plain(insecure: listener.settings.insecure)
    }

    /// No packet of this client is handled for now (a login being verified, a rate pause); its
    /// socket is not watched for reading, so the kernel's buffers push back on it.
    /// On HTTP: a console login being checked (the requests behind it wait), or an answer after
    /// which the connection closes (nothing more is read).
    var isHeld: Bool { verifying != nil || pausedUntil != nil || http?.pendingLogin != nil || http?.closeWhenFlushed == true }

    var isConnected: Bool {
        if case .connected = phase { return true }
        return false
    }

    /// Bytes written by the broker that the client has not taken yet.
    var pendingByteCount: Int { output.pendingCount + webSocketOutput.pendingCount + (tls?.pendingByteCount ?? 0) }

    /// Appends bytes through `body` (the output buffer is passed inout so packets can be encoded
    /// in place).
    func appendOutput(_ body: (inout [UInt8]) -> Void) {
        output.append(body)
    }

    /// Writes what the socket takes; true when everything is written.
    func writePending() throws(Errno) -> Bool {
        if http?.isWebSocket == true {
            frameOutput()
            if let tls { return try tls.write(&webSocketOutput, to: socket) }
            return try webSocketOutput.write(to: socket)
        }
        if let tls { return try tls.write(&output, to: socket) }
        return try output.write(to: socket)
    }

    /// The MQTT bytes written since the last flush, as one binary frame: MQTT 3.1.1 section 6
    /// lets a frame hold several packets or parts of one, so a burst costs one frame header.
    private func frameOutput() {
        guard !output.isEmpty else { return }
        output.withPendingBytes { bytes in
            webSocketOutput.append { WebSocketFrame.encode(opcode: .binary, payload: bytes, into: &$0) }
        }
        output.removeAll()
    }

    /// Bytes that go to the socket as they are, after what is already owed: the 101 answer of
    /// the upgrade, then control frames.
    func appendWebSocketBytes(_ bytes: [UInt8]) {
        if output.isEmpty == false, http?.isWebSocket == true { frameOutput() }
        webSocketOutput.append(contentsOf: bytes)
    }

    /// Moves what was written before the upgrade (the 101 answer) where the socket takes it
    /// unframed, so that only what follows goes into frames.
    func sealOutputBeforeUpgrade() {
        guard !output.isEmpty else { return }
        output.withPendingBytes { bytes in webSocketOutput.append(contentsOf: Array(bytes)) }
        output.removeAll()
    }

    /// Gives back the read and write buffers of a connection with nothing pending: thousands of
    /// idle clients would otherwise each hold buffers sized for their last burst.
    func releaseIdleBuffers() {
        guard output.isEmpty, webSocketOutput.isEmpty, output.capacity > 0 || webSocketOutput.capacity > 0 else { return }
        output.release()
        webSocketOutput.release()
        framer.releaseMemoryIfEmpty()
        http?.releaseIdleBuffers()
    }

    /// Closes the socket; `reset` drops unsent bytes at once (a client that stopped reading).
    func close(reset: Bool = false) {
        phase = .closed
        if reset { socket.abort() } else { socket.close() }
    }

    /// The end of a closing connection: one non-blocking attempt to write what is owed, then the
    /// socket is closed.
    func finishClosing() {
        if let http, http.isWebSocket, !http.sentClose {
            // RFC 6455 section 7.1.2: the endpoint that closes sends a close frame first.
            http.sentClose = true
            appendWebSocketBytes(Self.closeFrame(code: 1000, reason: ""))
        }
        if let tls {
            // close_notify after what is owed (RFC 8446 §6.1).
            _ = try? tls.write(&output, to: socket, thenClose: true)
        } else {
            _ = try? writePending()
        }
        close()
    }
}

extension Connection {
    /// A close frame with a status code (RFC 6455 section 5.5.1).
    static func closeFrame(code: UInt16, reason: String) -> [UInt8] {
        var frame: [UInt8] = []
        WebSocketFrame.encode(opcode: .close, payload: WebSocketFrame.closePayload(code: code, reason: reason), into: &frame)
        return frame
    }
}

/// A CONNECT whose credentials the `LoginVerifier` is checking. A class, so that a connection
/// holds one reference while it waits, not a CONNECT's worth of fields all its life.
final class PendingConnect {
    let connect: Connect
    let clientID: String

    init(connect: Connect, clientID: String) {
        self.connect = connect
        self.clientID = clientID
    }
}
