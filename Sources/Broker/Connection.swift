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
    /// Bytes waiting for the socket to take them (plaintext; a TLS session encrypts them at flush).
    private(set) var output = OutputBuffer()
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
    var isHeld: Bool { verifying != nil || pausedUntil != nil }

    var isConnected: Bool {
        if case .connected = phase { return true }
        return false
    }

    /// Bytes written by the broker that the client has not taken yet.
    var pendingByteCount: Int { output.pendingCount + (tls?.pendingByteCount ?? 0) }

    /// Appends bytes through `body` (the output buffer is passed inout so packets can be encoded
    /// in place).
    func appendOutput(_ body: (inout [UInt8]) -> Void) {
        output.append(body)
    }

    /// Writes what the socket takes; true when everything is written.
    func writePending() throws(Errno) -> Bool {
        if let tls { return try tls.write(&output, to: socket) }
        return try output.write(to: socket)
    }

    /// Gives back the read and write buffers of a connection with nothing pending: thousands of
    /// idle clients would otherwise each hold buffers sized for their last burst.
    func releaseIdleBuffers() {
        guard output.isEmpty, output.capacity > 0 else { return }
        output.release()
        framer.releaseMemoryIfEmpty()
    }

    /// Closes the socket; `reset` drops unsent bytes at once (a client that stopped reading).
    func close(reset: Bool = false) {
        phase = .closed
        if reset { socket.abort() } else { socket.close() }
    }

    /// The end of a closing connection: one non-blocking attempt to write what is owed, then the
    /// socket is closed.
    func finishClosing() {
        if let tls {
            // close_notify after what is owed (RFC 8446 §6.1).
            _ = try? tls.write(&output, to: socket, thenClose: true)
        } else {
            _ = try? writePending()
        }
        close()
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
