import FoundationEssentials
import Glibc
import TLS
import TestSupport
import Testing

/// Contexts refuse bad material with errors that name the file and the step; fingerprints of
/// certificate files match the openssl CLI's.
@Suite struct ConfigurationTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates() }

    @Test func fingerprintsOfPEMAndDERFilesMatchTheOpenSSLCommand() throws {
        try certificates.run(["x509", "-in", certificates.path("server.pem"), "-outform", "DER", "-out", certificates.path("server.der")])
        let fromPEM = try Certificate.load(certificates.pem("server"))
        let fromDER = try Certificate.load(.file(certificates.path("server.der")))
        #expect(fromPEM.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("server", digest: "sha256")))
        #expect(fromPEM.sha1Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("server", digest: "sha1")))
        #expect(fromDER == fromPEM)
        #expect(fromPEM.subject == "CN=server.test")
        #expect(fromPEM.sha256Fingerprint != (try Certificate.load(certificates.pem("client"))).sha256Fingerprint)
    }

    @Test func fingerprintOfPEMBytesInMemory() throws {
        let bytes = try #require(FileManager.default.contents(atPath: certificates.path("client.pem")).map(Array.init))
        let certificate = try Certificate.load(.bytes(bytes, name: "client bytes"))
        #expect(certificate.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("client", digest: "sha256")))
    }

    @Test func aServerFromPEMBytesSendsItsIntermediateToAClientThatTrustsOnlyTheRoot() throws {
        try certificates.makeIntermediateChain("leaf")
        let chain = try #require(FileManager.default.contents(atPath: certificates.path("leaf-chain.pem")).map(Array.init))
        let key = try #require(FileManager.default.contents(atPath: certificates.path("leaf.key")).map(Array.init))
        let server = try TLSContext.server(TLSConfiguration(certificateChain: .bytes(chain, name: "chain bytes"),
                                                            privateKey: .bytes(key, name: "key bytes"))).makeServerConnection()
        let client = try TLSContext.client(certificates.client(withCertificate: false)).makeClientConnection(serverName: "server.test")
        let outcome = handshake(client, server)
        #expect(outcome.bothDone, "\(outcome)")
        #expect(client.peerCertificate?.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("leaf", digest: "sha256")))

        // The leaf alone does not chain to the root the client trusts.
        let leafOnly = try TLSContext.server(TLSConfiguration(certificateChain: certificates.pem("leaf"), privateKey: certificates.key("leaf")))
        let refusingClient = try TLSContext.client(certificates.client(withCertificate: false)).makeClientConnection(serverName: "server.test")
        guard case let .failure(.handshakeFailed(_, reason)) = handshake(refusingClient, try leafOnly.makeServerConnection()).client else {
            Issue.record("a client accepted a leaf without its intermediate")
            return
        }
        #expect(reason.contains("unable to get local issuer certificate"), "\(reason)")
    }

    @Test func aKeyOfAnotherCertificateIsRefusedNamingBothFiles() throws {
        let configuration = TLSConfiguration(certificateChain: certificates.pem("server"), privateKey: certificates.key("client"))
        #expect {
            try TLSContext.server(configuration)
        } throws: { error in
            guard case let .keyMismatch(key, certificate, _) = error as? TLSError else { return false }
            return key == certificates.path("client.key") && certificate == certificates.path("server.pem")
                && "\(error)".hasPrefix("the private key in \(key) does not match the certificate in \(certificate)")
        }
    }

    @Test func aMissingFileIsNamedWithItsErrno() throws {
        let missing = certificates.path("missing.pem")
        let configuration = TLSConfiguration(certificateChain: .file(missing), privateKey: certificates.key("server"))
        #expect {
            try TLSContext.server(configuration)
        } throws: { error in
            guard case let .fileUnreadable(path, errno) = error as? TLSError else { return false }
            return path == missing && errno.rawValue == ENOENT && "\(error)".hasPrefix("cannot read \(missing): ENOENT")
        }
    }

    @Test func aFileWithoutPEMIsNamedWithOpenSSLsReason() throws {
        try certificates.write("notes.txt", "not a certificate\n")
        let configuration = TLSConfiguration(certificateChain: certificates.pem("server"), privateKey: certificates.key("server"),
                                             trustedCertificates: .file(certificates.path("notes.txt")), clientCertificates: .required)
        #expect {
            try TLSContext.server(configuration)
        } throws: { error in
            guard case let .invalidPEM(source, what, detail) = error as? TLSError else { return false }
            return source == certificates.path("notes.txt") && what == "certificate" && detail.contains("no start line")
        }
        #expect(throws: TLSError.self) { try Certificate.load(.bytes(Array("junk".utf8), name: "junk")) }
    }

    @Test func settingsThatCannotWorkAreRefused() throws {
        let server = certificates.server()
        var badCiphers = server
        badCiphers.tls12Ciphers = "NO-SUCH-CIPHER"
        #expect {
            try TLSContext.server(badCiphers)
        } throws: { error in
            guard case let .configuration(step, detail) = error as? TLSError else { return false }
            return step == "TLS 1.2 cipher list 'NO-SUCH-CIPHER'" && detail.contains("no cipher match")
        }
        var backwards = server
        backwards.minimumVersion = .v1_3
        backwards.maximumVersion = .v1_2
        #expect(throws: TLSError.configuration(step: "versions", detail: "minimum TLSv1.3 is newer than maximum TLSv1.2")) {
            try TLSContext.server(backwards)
        }
        #expect(throws: TLSError.self) { try TLSContext.server(TLSConfiguration()) }
        var noTrust = server
        noTrust.trustedCertificates = nil
        noTrust.clientCertificates = .required
        #expect(throws: TLSError.self) { try TLSContext.server(noTrust) }
        let client = try TLSContext.client(certificates.client())
        #expect(throws: TLSError.self) { try client.makeServerConnection() }
        #expect(throws: TLSError.self) { try client.makeClientConnection(serverName: "") }
    }

    @Test func tls13OnlyServerRefusesATLS12OnlyClient() throws {
        let server = try TLSContext.server(certificates.server(version: .v1_3)).makeServerConnection()
        let client = try TLSContext.client(certificates.client(version: .v1_2)).makeClientConnection(serverName: "server.test")
        let outcome = handshake(client, server)
        guard case let .failure(.handshakeFailed(_, reason)) = outcome.server else {
            Issue.record("a TLS 1.3-only server accepted a TLS 1.2 client: \(outcome)")
            return
        }
        #expect(reason.contains("unsupported protocol"), "\(reason)")
    }
}
