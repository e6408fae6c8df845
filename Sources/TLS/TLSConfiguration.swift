/// Which end of the handshake a context serves.
package enum TLSRole: String, Equatable, Sendable, CustomStringConvertible {
    case server
    case client

    package var description: String { rawValue }
}

/// A TLS protocol version this module speaks: nothing older than 1.2.
package enum TLSVersion: String, Comparable, Sendable, CustomStringConvertible {
    case v1_2 = "TLSv1.2"
    case v1_3 = "TLSv1.3"

    package var description: String { rawValue }

    package static func < (left: TLSVersion, right: TLSVersion) -> Bool { left == .v1_2 && right == .v1_3 }
}

/// Whether a server asks its clients for a certificate.
package enum ClientCertificatePolicy: Equatable, Sendable {
    /// No certificate is asked for.
    case none
    /// A certificate is asked for and verified if sent; a client without one is let in.
    case optional
    /// A client without a certificate (or with one that does not verify) fails the handshake.
    case required
    /// A certificate is asked for and any is accepted, not verified (self-signed, unknown issuer,
    /// expired), as is a client without one: the application judges `peerCertificate` (a device
    /// registry trusts registered fingerprints, not CAs). Needs no trusted certificates.
    case requestedUnverified
}

/// Where PEM text comes from: a file, or bytes already in memory (named for error messages).
package enum PEMSource: Equatable, Sendable, CustomStringConvertible {
    case file(String)
    case bytes([UInt8], name: String)

    /// The path, or the name given to the bytes.
    package var description: String {
        switch self {
        case let .file(path): path
        case let .bytes(_, name): name
        }
    }
}

/// Everything a `TLSContext` is built from.
package struct TLSConfiguration: Equatable, Sendable {
    /// OpenSSL cipher list for TLS 1.2: forward secrecy (ECDHE) with AEAD ciphers only.
    package static let defaultTLS12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"

    /// This end's certificate followed by its intermediates (a server needs one; a client only
    /// for client-certificate authentication).
    package var certificateChain: PEMSource?
    /// The private key of the chain's first certificate.
    package var privateKey: PEMSource?
    /// CA certificates that peers' certificates must chain to. A client without any uses the
    /// system's trust store; a server needs them to verify client certificates.
    package var trustedCertificates: PEMSource?
    /// Server role: whether to ask clients for a certificate.
    package var clientCertificates: ClientCertificatePolicy
    /// The oldest version accepted (never below 1.2).
    package var minimumVersion: TLSVersion
    /// The newest version offered.
    package var maximumVersion: TLSVersion
    /// The cipher list for TLS 1.2 in OpenSSL's syntax.
    package var tls12Ciphers: String
    /// The TLS 1.3 cipher suites in OpenSSL's syntax; nil keeps OpenSSL's default suites.
    package var tls13CipherSuites: String?

    /// A configuration with TLS 1.2 and 1.3, the default ciphers and no client certificates.
    package init(certificateChain: PEMSource? = nil, privateKey: PEMSource? = nil, trustedCertificates: PEMSource? = nil,
                clientCertificates: ClientCertificatePolicy = .none, minimumVersion: TLSVersion = .v1_2,
                maximumVersion: TLSVersion = .v1_3, tls12Ciphers: String = TLSConfiguration.defaultTLS12Ciphers,
                tls13CipherSuites: String? = nil) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.trustedCertificates = trustedCertificates
        self.clientCertificates = clientCertificates
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        self.tls12Ciphers = tls12Ciphers
        self.tls13CipherSuites = tls13CipherSuites
    }
}
