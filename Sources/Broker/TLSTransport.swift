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
    /// Ciphertext not written yet; `ciphertextStart` is where the unsent part begins.
    private var ciphertext: [UInt8] = []
    private var ciphertextStart = 0

    init(session: TLSConnection, listener: String) {
        self.session = session
        self.listener = listener
    }

    var isHandshaking: Bool { session.state == .handshaking }

    /// Ciphertext the client has not taken yet (counted with the connection's pending bytes).
    var pendingByteCount: Int { ciphertext.count - ciphertextStart }

    /// Queues what the session has produced for the socket.
    func collectOutput() {
        guard session.hasOutput else { return }
        if ciphertextStart == ciphertext.count {
            ciphertext = session.takeOutput()
            ciphertextStart = 0
        } else {
            ciphertext += session.takeOutput()
        }
    }

    /// Encrypts `plaintext[start...]` (the connection's output) and empties it, queues
    /// close_notify if `thenClose`, and writes what the socket takes; true when all is written.
    /// A session that can no longer carry data (the client sent close_notify) drops the plaintext.
    func write(_ plaintext: inout [UInt8], from start: inout Int, to socket: Socket, thenClose: Bool = false) throws(Errno) -> Bool {
        if start < plaintext.count {
            if session.state == .established {
                let first = start
                let encrypted = plaintext.withUnsafeBytes { bytes in
                    Result { () throws(TLSError) in try session.write(UnsafeRawBufferPointer(rebasing: bytes[first...])) }
                }
                // Only a broken OpenSSL state or memory ends here: the socket write's error kind.
                guard case .success = encrypted else { throw Errno(rawValue: EPROTO) }
            }
            plaintext.removeAll(keepingCapacity: plaintext.capacity <= 65_536)
            start = 0
        }
        if thenClose { session.close() }
        collectOutput()
        while ciphertextStart < ciphertext.count {
            let first = ciphertextStart
            let written = try ciphertext.withUnsafeBytes { bytes in
                Result { () throws(Errno) -> Int in try socket.write(UnsafeRawBufferPointer(rebasing: bytes[first...])) }
            }.get()
            if written == 0 { break }
            ciphertextStart += written
        }
        if ciphertextStart == ciphertext.count {
            ciphertext.removeAll(keepingCapacity: ciphertext.capacity <= 65_536)
            ciphertextStart = 0
            return true
        }
        if ciphertextStart > 65_536 && ciphertextStart * 2 > ciphertext.count {
            ciphertext.removeFirst(ciphertextStart)
            ciphertextStart = 0
        }
        return false
    }
}
