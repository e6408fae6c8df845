/// One TLS connection that never touches a socket: its owner (an event loop) feeds it the
/// ciphertext it received, sends what `takeOutput()` returns, and moves plaintext in and out.
/// Nothing blocks: where OpenSSL needs more bytes, the result says so, and a handshake that
/// never completes is the owner's timeout. Not thread-safe: one owner at a time.
///
/// After every call, the owner sends `takeOutput()` if `hasOutput`: handshake messages, alerts
/// (also after a failure, so the peer learns why) and close_notify all come out there.
package final class TLSConnection {
    /// Where the connection is in its life.
    package enum State: Equatable, Sendable {
        case handshaking
        case established
        /// close_notify was sent or received; nothing more can be written.
        case closed
        case failed(TLSError)
    }

    /// How far a `handshake()` call got.
    package enum HandshakeProgress: Equatable, Sendable {
        /// More ciphertext from the peer is needed (send the output first).
        case needsInput
        /// The handshake is complete; application data can flow.
        case done
    }

    /// What a `read()` call found.
    package enum ReadResult: Equatable, Sendable {
        /// Plaintext the peer sent (never empty).
        case data([UInt8])
        /// Nothing decryptable yet: more ciphertext is needed.
        case needsInput
        /// The peer sent close_notify: it will send nothing more.
        case closed
    }

    /// Which end of the handshake this connection is.
    package let role: TLSRole
    /// The connection's state after the last call.
    package private(set) var state: State = .handshaking
    private let openSSL: OpenSSLConnection
    // Keeps the SSL_CTX alive at least as long as the SSL made from it.
    private let context: TLSContext

    init(context: TLSContext, serverName: String?) throws(TLSError) {
        self.context = context
        role = context.role
        openSSL = try OpenSSLConnection(context: context.openSSL, serverName: serverName)
    }

    /// Ciphertext received from the peer, to be processed by the next call.
    package func receive(_ ciphertext: some Collection<UInt8>) {
        let fed = ciphertext.withContiguousStorageIfAvailable { openSSL.feed(UnsafeRawBufferPointer($0)) }
            ?? Array(ciphertext).withUnsafeBytes { openSSL.feed($0) }
        // Bytes lost here would leave the stream undecryptable: the connection is over.
        guard !fed else { return }
        let reason = "out of memory buffering input"
        state = .failed(state == .handshaking ? .handshakeFailed(role: role, reason: reason) : .connectionFailed(operation: "receive", reason: reason))
    }

    /// Whether there is ciphertext to send to the peer.
    package var hasOutput: Bool { openSSL.pendingOutput > 0 }

    /// The ciphertext to send to the peer, removed from the connection.
    package func takeOutput() -> [UInt8] { openSSL.takeOutput() }

    /// Moves the handshake on with what has been received.
    package func handshake() throws(TLSError) -> HandshakeProgress {
        switch state {
        case .established, .closed: return .done
        case let .failed(error): throw error
        case .handshaking: break
        }
        switch openSSL.handshake() {
        case .done:
            state = .established
            return .done
        case .wantsInput:
            return .needsInput
        case .peerClosed:
            throw fail(.handshakeFailed(role: role, reason: "the peer closed the connection during the handshake"))
        case let .failed(reason):
            throw fail(.handshakeFailed(role: role, reason: reason))
        }
    }

    /// All the plaintext that the ciphertext received so far decrypts to.
    package func read() throws(TLSError) -> ReadResult {
        switch state {
        case .handshaking: throw TLSError.notEstablished(operation: "read")
        case let .failed(error): throw error
        case .established, .closed: break
        }
        var plaintext: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)  // one TLS record's worth (RFC 8446 §5.1)
        while true {
            let (count, outcome) = buffer.withUnsafeMutableBytes { openSSL.read(into: $0) }
            plaintext += buffer[0..<count]
            switch outcome {
            case .done:
                continue
            case .wantsInput:
                return plaintext.isEmpty ? .needsInput : .data(plaintext)
            case .peerClosed:
                state = .closed
                // The data before close_notify first; the next call reports the close.
                return plaintext.isEmpty ? .closed : .data(plaintext)
            case let .failed(reason):
                throw fail(.connectionFailed(operation: "read", reason: reason))
            }
        }
    }

    /// Encrypts `plaintext`; the records are in the output.
    package func write(_ plaintext: some Collection<UInt8>) throws(TLSError) {
        let bytes = Array(plaintext)
        try bytes.withUnsafeBytes { buffer in Result { () throws(TLSError) in try write(buffer) } }.get()
    }

    /// Encrypts the bytes in `plaintext` without copying them first (an event loop's output buffer).
    package func write(_ plaintext: UnsafeRawBufferPointer) throws(TLSError) {
        switch state {
        case .handshaking, .closed: throw TLSError.notEstablished(operation: "write")
        case let .failed(error): throw error
        case .established: break
        }
        let outcome = openSSL.write(plaintext)
        switch outcome {
        case .done: return
        case .wantsInput, .peerClosed: throw fail(.connectionFailed(operation: "write", reason: "OpenSSL could not take the data"))
        case let .failed(reason): throw fail(.connectionFailed(operation: "write", reason: reason))
        }
    }

    /// Ends the connection cleanly: close_notify goes into the output (RFC 8446 §6.1).
    package func close() {
        guard state == .established || state == .closed else { return }
        openSSL.shutdown()
        state = .closed
    }

    /// The version agreed on, once established.
    package var negotiatedVersion: TLSVersion? { state == .handshaking ? nil : openSSL.version }

    /// The cipher agreed on (OpenSSL's name, e.g. "TLS_AES_256_GCM_SHA384"), once established.
    package var cipher: String? { state == .handshaking ? nil : openSSL.cipher }

    /// The certificate the peer presented (a server's always; a client's if asked for and sent).
    package var peerCertificate: Certificate? {
        guard state != .handshaking, let der = openSSL.peerCertificateDER else { return nil }
        return try? Certificate(der: der, source: "the peer")
    }

    private func fail(_ error: TLSError) -> TLSError {
        state = .failed(error)
        return error
    }
}
