import Glibc
import POSIX
import TLS

/// The TLS session of one connection on a TLS listener. The connection's plaintext output is
/// encrypted into `session` at flush; the ciphertext the session produces (handshake messages,
/// alerts, records, close_notify) waits here until the socket takes it. Reactor thread only.
final class TLSTransport {
    let session: TLSConnection
    /// The listener's address, for the log line of a failed handshake.
    let listener: String
    /// The certificate the client presented, read once the handshake is done (nil: none).
    var clientCertificate: Certificate?
    /// Ciphertext not written yet.
    private var ciphertext = OutputBuffer()

    init(session: TLSConnection, listener: String) {
        self.session = session
        self.listener = listener
    }

    var isHandshaking: Bool { session.state == .handshaking }

    /// Ciphertext the client has not taken yet (counted with the connection's pending bytes).
    var pendingByteCount: Int { ciphertext.pendingCount }

    /// Queues what the session has produced for the socket.
    func collectOutput() {
        guard session.hasOutput else { return }
        ciphertext.append(contentsOf: session.takeOutput())
    }

    /// Encrypts the pending `plaintext` (the connection's output) and empties it, queues
    /// close_notify if `thenClose`, and writes what the socket takes; true when all is written.
    /// A session that can no longer carry data (the client sent close_notify) drops the plaintext.
    func write(_ plaintext: inout OutputBuffer, to socket: Socket, thenClose: Bool = false) throws(Errno) -> Bool {
        if !plaintext.isEmpty {
            if session.state == .established {
                let encrypted = plaintext.withPendingBytes { bytes in
                    Result { () throws(TLSError) in try session.write(bytes) }
                }
                // Only a broken OpenSSL state or memory ends here: the socket write's error kind.
                guard case .success = encrypted else { throw Errno(rawValue: EPROTO) }
            }
            plaintext.removeAll()
        }
        if thenClose { session.close() }
        collectOutput()
        return try ciphertext.write(to: socket)
    }
}
