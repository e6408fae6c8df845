/// A salted, slow password hash: PBKDF2-HMAC-SHA256 (RFC 8018 §5.2), stored with its
/// parameters in one string in the PHC string format:
///
///     $pbkdf2-sha256$i=600000$<salt>$<hash>
///
/// salt (16 random bytes from RAND_bytes) and hash (32 bytes) in base64 without padding. The
/// iteration count travels with the hash, so raising the default later leaves old hashes valid.
///
/// Slow on purpose: at the default count one hash or verify is about 0.14 s of CPU here (measured
/// through the same OpenSSL), so a caller runs it on a worker thread, never on the reactor's.
package struct PasswordHash: Equatable, Sendable {
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
    package static let defaultIterations = 600_000
    /// Above this a stored hash is refused: verifying it would hold a thread for many seconds.
    package static let maximumIterations = 10_000_000
    static let identifier = "pbkdf2-sha256"
    static let saltLength = 16
    static let hashLength = 32

    /// The PBKDF2 iteration count.
    package let iterations: Int
    /// The random salt.
    package let salt: [UInt8]
    /// The derived key.
    package let hash: [UInt8]

    /// Hashes `password` with a fresh random salt.
    package static func make(password: String, iterations: Int = defaultIterations) throws(TLSError) -> PasswordHash {
        guard (1...maximumIterations).contains(iterations) else {
            throw .cryptoFailed(operation: "password hash", detail: "iterations must be 1...\(maximumIterations), not \(iterations)")
        }
        let salt = try OpenSSL.randomBytes(saltLength)
        let hash = try pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations, length: hashLength)
        return PasswordHash(iterations: iterations, salt: salt, hash: hash)
    }

    /// Reads a hash in the format above.
    package init(parsing encoded: String) throws(TLSError) {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty else {
            throw .malformedPasswordHash(detail: "expected $\(Self.identifier)$i=N$salt$hash")
        }
        guard fields[1] == Self.identifier else {
            throw .malformedPasswordHash(detail: "unknown algorithm '\(fields[1])', expected \(Self.identifier)")
        }
        guard fields[2].hasPrefix("i="), let iterations = Int(fields[2].dropFirst(2)), (1...Self.maximumIterations).contains(iterations) else {
            throw .malformedPasswordHash(detail: "'\(fields[2])' is not i=N with N in 1...\(Self.maximumIterations)")
        }
        guard let salt = Base64.decode(fields[3]), (8...64).contains(salt.count) else {
            throw .malformedPasswordHash(detail: "the salt is not 8 to 64 bytes of base64")
        }
        guard let hash = Base64.decode(fields[4]), (16...64).contains(hash.count) else {
            throw .malformedPasswordHash(detail: "the hash is not 16 to 64 bytes of base64")
        }
        self.init(iterations: iterations, salt: salt, hash: hash)
    }

    init(iterations: Int, salt: [UInt8], hash: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    /// The string to store.
    package var encoded: String {
        "$\(Self.identifier)$i=\(iterations)$\(Base64.encode(salt))$\(Base64.encode(hash))"
    }

    /// Whether `password` is the one hashed, compared in constant time (CRYPTO_memcmp).
    package func verify(_ password: String) throws(TLSError) -> Bool {
        let candidate = try Self.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations, length: hash.count)
        return OpenSSL.constantTimeEqual(candidate, hash)
    }

    /// Whether `password` matches the stored `encoded` hash, with the parameters read from it.
    package static func verify(_ password: String, against encoded: String) throws(TLSError) -> Bool {
        try PasswordHash(parsing: encoded).verify(password)
    }

    /// Raw PBKDF2-HMAC-SHA256 (RFC 8018 §5.2), `length` bytes.
    package static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws(TLSError) -> [UInt8] {
        guard iterations >= 1, length >= 1, length <= 1024 else {
            throw .cryptoFailed(operation: "PBKDF2-HMAC-SHA256", detail: "iterations \(iterations) and length \(length) must both be positive, length at most 1024")
        }
        return try OpenSSL.pbkdf2SHA256(password: password, salt: salt, iterations: iterations, length: length)
    }
}
