/// An X.509 certificate as its DER bytes, with what configuration and logs say about it.
package struct Certificate: Equatable, Sendable {
    /// The DER encoding; the fingerprints are digests of exactly these bytes.
    package let der: [UInt8]
    /// SHA-256 of the DER, 64 lowercase hex digits (`openssl x509 -fingerprint -sha256` without
    /// the colons).
    package let sha256Fingerprint: String
    /// SHA-1 of the DER, 40 lowercase hex digits, for records that still hold SHA-1 fingerprints.
    package let sha1Fingerprint: String
    /// The subject in RFC 2253 form ("CN=client-1,O=Plant"), for logs.
    package let subject: String
    /// Start of the validity period, seconds since the Unix epoch (UTC).
    package let notBefore: Int64
    /// End of the validity period, seconds since the Unix epoch (UTC): an expired certificate
    /// still completes a `requestedUnverified` handshake, so whoever trusts it checks this.
    package let notAfter: Int64

    /// The first certificate in `source`, which holds PEM or DER.
    package static func load(_ source: PEMSource) throws(TLSError) -> Certificate {
        try Certificate(der: OpenSSL.certificateDER(in: try source.bytes(), source: source.description), source: source.description)
    }

    init(der: [UInt8], source: String) throws(TLSError) {
        self.der = der
        sha256Fingerprint = Hex.lowercase(try OpenSSL.digest(.sha256, of: der))
        sha1Fingerprint = Hex.lowercase(try OpenSSL.digest(.sha1, of: der))
        subject = OpenSSL.subject(ofDER: der)
        (notBefore, notAfter) = try OpenSSL.validity(ofDER: der, source: source)
    }

    /// `fingerprint` in the form this type gives: colons and spaces dropped, lowercase
    /// (so "AB:CD:..." as OpenSSL prints it compares equal).
    package static func normalizedFingerprint(_ fingerprint: String) -> String {
        String(fingerprint.lowercased().filter { $0 != ":" && $0 != " " })
    }
}
