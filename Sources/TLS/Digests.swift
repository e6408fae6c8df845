/// Small crypto primitives other modules need without OpenSSL: a digest and random bytes
/// (the registry's login cache keys).
package enum Digests {
    /// SHA-256 of `bytes` (32 bytes).
    package static func sha256(_ bytes: [UInt8]) throws(TLSError) -> [UInt8] {
        try OpenSSL.digest(.sha256, of: bytes)
    }

    /// SHA-1 of `bytes` (20 bytes); for the WebSocket handshake (RFC 6455 section 4.2.2), never for security.
    package static func sha1(_ bytes: [UInt8]) throws(TLSError) -> [UInt8] {
        try OpenSSL.digest(.sha1, of: bytes)
    }

    /// `count` bytes from OpenSSL's CSPRNG.
    package static func randomBytes(_ count: Int) throws(TLSError) -> [UInt8] {
        try OpenSSL.randomBytes(count)
    }
}

extension PasswordHash {
    /// Whether `password` (the raw bytes of an MQTT CONNECT, not necessarily UTF-8) is the one
    /// hashed, compared in constant time.
    package func verify(bytes password: [UInt8]) throws(TLSError) -> Bool {
        let candidate = try Self.pbkdf2SHA256(password: password, salt: salt, iterations: iterations, length: hash.count)
        return OpenSSL.constantTimeEqual(candidate, hash)
    }
}
