import COpenSSL
import Glibc

// The one file of the project that calls OpenSSL. The types here are thin owners of OpenSSL
// objects; the contracts the rest of the project sees are in TLSContext, TLSConnection,
// Certificate and PasswordHash.
//
// OpenSSL's error queue is per thread: every call that can fail starts with an empty queue
// (ERR_clear_error) and its failure text is drained on the same thread, before returning.

/// An SSL_CTX, configured once and then only read (OpenSSL allows SSL_new from several threads).
final class OpenSSLContext: @unchecked Sendable {
    let role: TLSRole
    private let context: OpaquePointer

    init(role: TLSRole, configuration: TLSConfiguration) throws(TLSError) {
        ERR_clear_error()
        guard let made = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw .configuration(step: "create an OpenSSL context", detail: OpenSSL.drainErrors())
        }
        self.role = role
        context = made
        try configure(configuration)
    }

    deinit { SSL_CTX_free(context) }

    /// A new SSL object bound to this context, or the error text.
    func makeConnection() throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let connection = SSL_new(context) else {
            throw .configuration(step: "create a connection", detail: OpenSSL.drainErrors())
        }
        return connection
    }

    private func configure(_ configuration: TLSConfiguration) throws(TLSError) {
        guard configuration.minimumVersion <= configuration.maximumVersion else {
            throw .configuration(step: "versions", detail: "minimum \(configuration.minimumVersion) is newer than maximum \(configuration.maximumVersion)")
        }
        try check(modbridge_SSL_CTX_set_min_proto_version(context, OpenSSL.code(configuration.minimumVersion)), "set the minimum version")
        try check(modbridge_SSL_CTX_set_max_proto_version(context, OpenSSL.code(configuration.maximumVersion)), "set the maximum version")
        try check(SSL_CTX_set_cipher_list(context, configuration.tls12Ciphers), "TLS 1.2 cipher list '\(configuration.tls12Ciphers)'")
        if let suites = configuration.tls13CipherSuites {
            try check(SSL_CTX_set_ciphersuites(context, suites), "TLS 1.3 cipher suites '\(suites)'")
        }
        modbridge_SSL_CTX_set_hardening_options(context, role == .server ? 1 : 0)
        modbridge_SSL_CTX_release_idle_buffers(context)
        try useIdentity(chain: configuration.certificateChain, key: configuration.privateKey)
        try useTrust(configuration.trustedCertificates, clientCertificates: configuration.clientCertificates)
    }

    private func useIdentity(chain: PEMSource?, key: PEMSource?) throws(TLSError) {
        guard let chain, let key else {
            if chain != nil || key != nil {
                throw .configuration(step: "certificate and key", detail: "a certificate chain needs its private key and a key its certificate")
            }
            if role == .server {
                throw .configuration(step: "certificate and key", detail: "a server needs a certificate chain and its private key")
            }
            return
        }
        let certificates = try OpenSSL.certificates(in: try chain.bytes(), source: chain.description)
        defer { certificates.forEach { X509_free($0) } }
        ERR_clear_error()
        try check(SSL_CTX_use_certificate(context, certificates[0]), "use the certificate from \(chain)")
        for intermediate in certificates.dropFirst() {
            try check(modbridge_SSL_CTX_add1_chain_cert(context, intermediate), "add a chain certificate from \(chain)")
        }
        let privateKey = try OpenSSL.privateKey(in: try key.bytes(), source: key.description)
        defer { EVP_PKEY_free(privateKey) }
        ERR_clear_error()
        // SSL_CTX_use_PrivateKey already refuses a key that is not the certificate's.
        guard SSL_CTX_use_PrivateKey(context, privateKey) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw .keyMismatch(key: key.description, certificate: chain.description, detail: OpenSSL.drainErrors())
        }
    }

    private func useTrust(_ trusted: PEMSource?, clientCertificates: ClientCertificatePolicy) throws(TLSError) {
        if let trusted {
            let certificates = try OpenSSL.certificates(in: try trusted.bytes(), source: trusted.description)
            defer { certificates.forEach { X509_free($0) } }
            let store = SSL_CTX_get_cert_store(context)
            for certificate in certificates {
                ERR_clear_error()
                try check(X509_STORE_add_cert(store, certificate), "trust a certificate from \(trusted)")
                // The server names these CAs in its CertificateRequest (RFC 8446 §4.2.4), so a
                // client with several certificates can pick the right one.
                if role == .server { try check(SSL_CTX_add_client_CA(context, certificate), "name a client CA from \(trusted)") }
            }
        }
        switch role {
        case .client:
            if trusted == nil { try check(SSL_CTX_set_default_verify_paths(context), "load the system's trusted certificates") }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .server:
            if clientCertificates == .optional || clientCertificates == .required, trusted == nil {
                throw .configuration(step: "client certificates", detail: "verifying client certificates needs trusted CA certificates")
            }
            switch clientCertificates {
            case .none: SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            case .optional: SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            case .required: SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            // SSL_VERIFY_PEER sends the CertificateRequest; the callback overrules every chain
            // error, so the handshake only proves the client holds the certificate's key.
            case .requestedUnverified: SSL_CTX_set_verify(context, SSL_VERIFY_PEER, OpenSSL.acceptAnyCertificate)
            }
            // Resuming a session with client verification needs a context id, or OpenSSL fails it.
            let name = Array("modbridge".utf8)
            try check(SSL_CTX_set_session_id_context(context, name, UInt32(name.count)), "set the session id context")
        }
    }

    private func check(_ result: Int32, _ step: String) throws(TLSError) {
        if result != 1 { throw .configuration(step: step, detail: OpenSSL.drainErrors()) }
    }
}

/// One SSL object over two memory BIOs: OpenSSL never touches a socket; the owner feeds
/// ciphertext into `input` and takes what OpenSSL wrote from `output`.
final class OpenSSLConnection {
    /// The result of one OpenSSL step.
    enum Outcome: Equatable {
        case done
        case wantsInput
        case peerClosed
        case failed(String)
    }

    private let connection: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer

    init(context: OpenSSLContext, serverName: String?) throws(TLSError) {
        connection = try context.makeConnection()
        let madeInput = BIO_new(BIO_s_mem()), madeOutput = BIO_new(BIO_s_mem())
        guard let input = madeInput, let output = madeOutput else {
            let detail = OpenSSL.drainErrors()
            BIO_free(madeInput)
            BIO_free(madeOutput)
            SSL_free(connection)
            throw .configuration(step: "create memory buffers", detail: detail)
        }
        modbridge_BIO_set_mem_eof_return(input, -1)
        modbridge_BIO_set_mem_eof_return(output, -1)
        SSL_set_bio(connection, input, output)
        self.input = input
        self.output = output
        if context.role == .server {
            SSL_set_accept_state(connection)
        } else {
            SSL_set_connect_state(connection)
            if let serverName { try expect(serverName) }
        }
    }

    deinit { SSL_free(connection) }  // frees both BIOs too

    /// Sends `name` in SNI (unless it is an IP address: RFC 6066 §3) and requires the server's
    /// certificate to name it.
    private func expect(_ name: String) throws(TLSError) {
        ERR_clear_error()
        if OpenSSL.isIPAddress(name) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(connection), name) == 1 else {
                throw .configuration(step: "expect IP address \(name)", detail: OpenSSL.drainErrors())
            }
            return
        }
        guard modbridge_SSL_set_tlsext_host_name(connection, name) == 1, SSL_set1_host(connection, name) == 1 else {
            throw .configuration(step: "expect server name \(name)", detail: OpenSSL.drainErrors())
        }
    }

    /// Appends received ciphertext to the input; false only if memory ran out.
    func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return true }
        var offset = 0
        // A memory BIO grows as needed; BIO_write takes an Int32 count, hence the chunks.
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 20)
            let written = BIO_write(input, base + offset, Int32(chunk))
            if written <= 0 { return false }
            offset += Int(written)
        }
        return true
    }

    var pendingOutput: Int { Int(BIO_ctrl_pending(output)) }

    func takeOutput() -> [UInt8] {
        let count = pendingOutput
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { BIO_read(output, $0.baseAddress, Int32(count)) }
        return Array(bytes.prefix(max(0, Int(read))))
    }

    func handshake() -> Outcome {
        ERR_clear_error()
        let result = SSL_do_handshake(connection)
        return result == 1 ? .done : outcome(of: result)
    }

    /// Decrypts what has been fed into `buffer`; the count read, with `.done` while there is more.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, Outcome) {
        ERR_clear_error()
        var count = 0
        let result = SSL_read_ex(connection, buffer.baseAddress, buffer.count, &count)
        return result == 1 ? (count, .done) : (0, outcome(of: result))
    }

    /// Encrypts all of `bytes` (a memory BIO takes everything, so there are no partial writes).
    func write(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        guard !bytes.isEmpty else { return .done }
        ERR_clear_error()
        var written = 0
        let result = SSL_write_ex(connection, bytes.baseAddress, bytes.count, &written)
        return result == 1 ? .done : outcome(of: result)
    }

    /// Queues close_notify (RFC 8446 §6.1) into the output.
    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(connection)
        ERR_clear_error()
    }

    var version: TLSVersion? {
        switch SSL_version(connection) {
        case TLS1_3_VERSION: .v1_3
        case TLS1_2_VERSION: .v1_2
        default: nil
        }
    }

    var cipher: String? {
        guard let cipher = SSL_get_current_cipher(connection), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// The DER of the certificate the peer presented, if any.
    var peerCertificateDER: [UInt8]? {
        guard let certificate = SSL_get1_peer_certificate(connection) else { return nil }
        defer { X509_free(certificate) }
        return OpenSSL.der(of: certificate)
    }

    private func outcome(of result: Int32) -> Outcome {
        switch SSL_get_error(connection, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantsInput
        case SSL_ERROR_ZERO_RETURN: return .peerClosed
        default:
            var reason = OpenSSL.drainErrors()
            let verification = SSL_get_verify_result(connection)
            if verification != Int(X509_V_OK), let text = X509_verify_cert_error_string(verification) {
                reason += "; certificate verification: \(String(cString: text))"
            }
            return .failed(reason.isEmpty ? "the connection ended without a TLS alert" : reason)
        }
    }
}

/// Certificates, digests and random bytes.
enum OpenSSL {
    /// OpenSSL's error queue of this thread as one line ("reason (detail); ..."), emptied.
    static func drainErrors() -> String {
        var parts: [String] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var part = ERR_reason_error_string(code).map { String(cString: $0) } ?? "error \(code)"
            if flags & ERR_TXT_STRING != 0, let data, data.pointee != 0 { part += " (\(String(cString: data)))" }
            if parts.last != part { parts.append(part) }
        }
        return parts.joined(separator: "; ")
    }

    static func code(_ version: TLSVersion) -> Int32 {
        switch version {
        case .v1_2: TLS1_2_VERSION
        case .v1_3: TLS1_3_VERSION
        }
    }

    static func isIPAddress(_ name: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, name, &address) == 1 || inet_pton(AF_INET6, name, &address) == 1
    }

    /// Every certificate in PEM `bytes` (at least one), to be freed with X509_free.
    static func certificates(in bytes: [UInt8], source: String) throws(TLSError) -> [OpaquePointer] {
        var certificates: [OpaquePointer] = []
        ERR_clear_error()
        let failure: String? = bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return drainErrors() }
            defer { BIO_free(bio) }
            while let certificate = PEM_read_bio_X509(bio, nil, refusePassphrase, nil) {
                certificates.append(certificate)
            }
            // The read after the last certificate ends in "no start line": the end, not an error.
            let last = ERR_peek_last_error()
            if certificates.isEmpty || ERR_GET_REASON(last) != PEM_R_NO_START_LINE { return drainErrors() }
            ERR_clear_error()
            return nil
        }
        if let failure {
            certificates.forEach { X509_free($0) }
            throw .invalidPEM(source: source, what: "certificate", detail: failure)
        }
        return certificates
    }

    /// The private key in PEM `bytes`, to be freed with EVP_PKEY_free. Encrypted keys are refused
    /// (nothing may prompt for a passphrase on the terminal).
    static func privateKey(in bytes: [UInt8], source: String) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        let key = bytes.withUnsafeBytes { buffer -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, refusePassphrase, nil)
        }
        guard let key else { throw .invalidPEM(source: source, what: "private key", detail: drainErrors()) }
        return key
    }

    /// The DER of the first certificate in `bytes`, which hold PEM or DER.
    static func certificateDER(in bytes: [UInt8], source: String) throws(TLSError) -> [UInt8] {
        // DER always starts with a SEQUENCE tag; PEM may have text before its BEGIN line.
        if bytes.first != 0x30 {
            let certificates = try certificates(in: bytes, source: source)
            defer { certificates.forEach { X509_free($0) } }
            return der(of: certificates[0])
        }
        guard let certificate = parseDER(bytes) else {
            throw .invalidPEM(source: source, what: "certificate (PEM or DER)", detail: drainErrors())
        }
        X509_free(certificate)
        return bytes
    }

    /// The subject of the certificate in `der`, in RFC 2253 form ("CN=client-1,O=Plant").
    static func subject(ofDER der: [UInt8]) -> String {
        guard let certificate = parseDER(der) else { return "" }
        defer { X509_free(certificate) }
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard modbridge_X509_NAME_print_rfc2253(bio, X509_get_subject_name(certificate)) >= 0 else { return "" }
        var text = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let read = text.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
        return String(decoding: text.prefix(max(0, Int(read))), as: UTF8.self)
    }

    /// notBefore and notAfter of the certificate in `der`, in seconds since the Unix epoch (UTC).
    static func validity(ofDER der: [UInt8], source: String) throws(TLSError) -> (notBefore: Int64, notAfter: Int64) {
        guard let certificate = parseDER(der) else {
            throw .invalidPEM(source: source, what: "certificate (DER)", detail: drainErrors())
        }
        defer { X509_free(certificate) }
        guard let notBefore = unixTime(X509_get0_notBefore(certificate)), let notAfter = unixTime(X509_get0_notAfter(certificate)) else {
            throw .invalidPEM(source: source, what: "certificate validity", detail: "a date OpenSSL cannot convert")
        }
        return (notBefore, notAfter)
    }

    /// An ASN1_TIME (UTCTime or GeneralizedTime, always UTC in X.509: RFC 5280 §4.1.2.5) as
    /// seconds since the epoch.
    private static func unixTime(_ time: UnsafePointer<ASN1_TIME>?) -> Int64? {
        guard let time else { return nil }
        var fields = tm()
        guard ASN1_TIME_to_tm(time, &fields) == 1 else { return nil }
        return Int64(timegm(&fields))
    }

    enum Digest { case sha256, sha1 }

    static func digest(_ algorithm: Digest, of bytes: [UInt8]) throws(TLSError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        ERR_clear_error()
        let ok = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &result, &length, algorithm == .sha256 ? EVP_sha256() : EVP_sha1(), nil)
        }
        guard ok == 1 else { throw .cryptoFailed(operation: "digest", detail: drainErrors()) }
        return Array(result.prefix(Int(length)))
    }

    static func randomBytes(_ count: Int) throws(TLSError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        ERR_clear_error()
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw .cryptoFailed(operation: "random bytes", detail: drainErrors()) }
        return bytes
    }

    static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws(TLSError) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: length)
        ERR_clear_error()
        let ok = password.withUnsafeBufferPointer { passwordBytes in
            passwordBytes.withMemoryRebound(to: CChar.self) { passwordCharacters in
                PKCS5_PBKDF2_HMAC(passwordCharacters.baseAddress, Int32(passwordCharacters.count), salt, Int32(salt.count),
                                  Int32(iterations), EVP_sha256(), Int32(length), &key)
            }
        }
        guard ok == 1 else { throw .cryptoFailed(operation: "PBKDF2-HMAC-SHA256", detail: drainErrors()) }
        return key
    }

    /// Whether `left` and `right` are equal, in a time that does not depend on where they differ.
    static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else { return false }
        return CRYPTO_memcmp(left, right, left.count) == 0
    }

    fileprivate static func der(of certificate: OpaquePointer) -> [UInt8] {
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(certificate, &cursor)
        }
        return bytes
    }

    private static func parseDER(_ bytes: [UInt8]) -> OpaquePointer? {
        ERR_clear_error()
        return bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
    }

    /// A verify callback that accepts whatever chain the client sent (`requestedUnverified`).
    fileprivate static let acceptAnyCertificate: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, _ in 1 }

    /// A passphrase callback that gives none, so that OpenSSL never prompts on the terminal.
    private static let refusePassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in 0 }
}
