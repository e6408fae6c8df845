import Glibc
import TLS
import TestSupport
import Testing

/// `ClientCertificatePolicy.requestedUnverified`: the server asks for a certificate and lets any
/// through (self-signed, expired, none); the application judges it by fingerprint and dates.
@Suite struct UnverifiedClientCertificateTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates() }

    /// A server for server.test that requests client certificates without verifying them; no CA.
    private func server(version: TLSVersion? = nil) throws -> TLSConnection {
        try TLSContext.server(TLSConfiguration(certificateChain: certificates.pem("server"), privateKey: certificates.key("server"),
                                               clientCertificates: .requestedUnverified,
                                               minimumVersion: version ?? .v1_2, maximumVersion: version ?? .v1_3))
            .makeServerConnection()
    }

    /// A client trusting the Test CA, presenting `name` (a certificate and its key) if given.
    private func client(presenting name: String?, version: TLSVersion? = nil) throws -> TLSConnection {
        try TLSContext.client(TLSConfiguration(certificateChain: name.map { certificates.pem($0) }, privateKey: name.map { certificates.key($0) },
                                               trustedCertificates: certificates.pem("ca"),
                                               minimumVersion: version ?? .v1_2, maximumVersion: version ?? .v1_3))
            .makeClientConnection(serverName: "server.test")
    }

    @Test(arguments: [TLSVersion.v1_2, .v1_3], ["device", "device-expired", "client"])
    func anyClientCertificateCompletesTheHandshakeAndIsShown(version: TLSVersion, name: String) throws {
        let (client, server) = (try client(presenting: name, version: version), try server(version: version))
        let outcome = handshake(client, server)
        try #require(outcome.bothDone, "\(outcome)")
        #expect(server.negotiatedVersion == version)
        let presented = try #require(server.peerCertificate)
        #expect(presented.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI(name, digest: "sha256")))
        // Data flows: the session is usable, not only finished.
        try client.write(Array("hello".utf8))
        exchange(client, server)
        #expect(try readAll(server).data == Array("hello".utf8))
    }

    @Test func aClientWithoutACertificateIsLetIn() throws {
        let (client, server) = (try client(presenting: nil), try server())
        try #require(handshake(client, server).bothDone)
        #expect(server.peerCertificate == nil)
    }

    @Test func requestedUnverifiedNeedsNoTrustedCertificates() throws {
        _ = try server()
        // The verifying policies still do.
        #expect(throws: TLSError.self) {
            try TLSContext.server(TLSConfiguration(certificateChain: certificates.pem("server"), privateKey: certificates.key("server"),
                                                   clientCertificates: .optional))
        }
    }

    @Test(arguments: ["device", "device-expired", "server", "expired"])
    func validityDatesAreTheOnesTheCLIPrints(name: String) throws {
        let certificate = try Certificate.load(certificates.pem(name))
        #expect(certificate.notBefore == (try cliDate(name, "startdate")))
        #expect(certificate.notAfter == (try cliDate(name, "enddate")))
        let now = Int64(time(nil))
        if name.contains("expired") {
            #expect(certificate.notAfter < now)
        } else {
            #expect(certificate.notBefore <= now && now < certificate.notAfter)
            #expect(certificate.notAfter - certificate.notBefore == 30 * 86_400)
        }
    }

    /// `openssl x509 -STARTorEND -dateopt iso_8601` ("notAfter=2026-01-02 03:04:05Z") in Unix seconds.
    private func cliDate(_ name: String, _ which: String) throws -> Int64 {
        let line = try certificates.run(["x509", "-in", certificates.path(name + ".pem"), "-noout", "-\(which)", "-dateopt", "iso_8601"])
        guard let equals = line.firstIndex(of: "=") else { throw TestCertificateError.commandFailed("no date in \(line)") }
        let numbers = line[line.index(after: equals)...].split(whereSeparator: { !$0.isNumber }).compactMap { Int32($0) }
        guard numbers.count == 6 else { throw TestCertificateError.commandFailed("unreadable date in \(line)") }
        var fields = tm()
        (fields.tm_year, fields.tm_mon, fields.tm_mday) = (numbers[0] - 1900, numbers[1] - 1, numbers[2])
        (fields.tm_hour, fields.tm_min, fields.tm_sec) = (numbers[3], numbers[4], numbers[5])
        return Int64(timegm(&fields))
    }
}
