import POSIX

/// What went wrong in the TLS module, and where: which file, which step, with OpenSSL's own
/// error text (its error queue, drained) where OpenSSL said something.
package enum TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A certificate or key file could not be read at all.
    case fileUnreadable(path: String, Errno)
    /// A source held no usable PEM (or DER) of the expected kind (`what`: "certificate", ...).
    case invalidPEM(source: String, what: String, detail: String)
    /// The private key does not belong to the certificate (the leaf of the chain).
    case keyMismatch(key: String, certificate: String, detail: String)
    /// A setting OpenSSL refused, or settings that do not fit together (`step` names it).
    case configuration(step: String, detail: String)
    /// The handshake failed; `reason` has OpenSSL's text and, for a rejected certificate, the
    /// verification result.
    case handshakeFailed(role: TLSRole, reason: String)
    /// Reading or writing application data on an established connection failed.
    case connectionFailed(operation: String, reason: String)
    /// Application data was written before the handshake finished, or after the connection ended.
    case notEstablished(operation: String)
    /// A stored password hash that is not in the `$pbkdf2-sha256$i=N$salt$hash` format.
    case malformedPasswordHash(detail: String)
    /// A crypto primitive (random bytes, PBKDF2, a digest) failed inside OpenSSL.
    case cryptoFailed(operation: String, detail: String)

    package var description: String {
        switch self {
        case let .fileUnreadable(path, error):
            "cannot read \(path): \(error)"
        case let .invalidPEM(source, what, detail):
            "cannot read a \(what) in PEM from \(source)" + Self.suffix(detail)
        case let .keyMismatch(key, certificate, detail):
            "the private key in \(key) does not match the certificate in \(certificate)" + Self.suffix(detail)
        case let .configuration(step, detail):
            "TLS configuration: \(step)" + Self.suffix(detail)
        case let .handshakeFailed(role, reason):
            "TLS handshake failed (\(role)): \(reason)"
        case let .connectionFailed(operation, reason):
            "TLS \(operation) failed: \(reason)"
        case let .notEstablished(operation):
            "TLS \(operation) on a connection that is not established"
        case let .malformedPasswordHash(detail):
            "malformed password hash: \(detail)"
        case let .cryptoFailed(operation, detail):
            "\(operation) failed" + Self.suffix(detail)
        }
    }

    private static func suffix(_ detail: String) -> String { detail.isEmpty ? "" : ": \(detail)" }
}
