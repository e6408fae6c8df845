import TLS
import TestSupport
import Testing

/// A client and a server connection handshake through two byte buffers: no socket anywhere.
@Suite struct HandshakeTests {
    let certificates: TestCertificates

    init() throws { certificates = try TestCertificates() }

    private func pair(server: TLSConfiguration, client: TLSConfiguration, serverName: String = "server.test") throws -> (TLSConnection, TLSConnection) {
        let serverConnection = try TLSContext.server(server).makeServerConnection()
        let clientConnection = try TLSContext.client(client).makeClientConnection(serverName: serverName)
        return (clientConnection, serverConnection)
    }

    @Test(arguments: [TLSVersion.v1_2, .v1_3])
    func handshakeCarriesDataBothWaysAndShowsTheClientCertificate(version: TLSVersion) throws {
        let (client, server) = try pair(server: certificates.server(clientCertificates: .required, version: version),
                                        client: certificates.client(version: version))
        let outcome = handshake(client, server)
        try #require(outcome.bothDone, "\(outcome)")
        #expect(client.state == .established && server.state == .established)
        #expect(client.negotiatedVersion == version && server.negotiatedVersion == version)
        let cipher = try #require(server.cipher)
        #expect(client.cipher == cipher)
        // The default policy: ECDHE with an AEAD for 1.2, one of OpenSSL's 1.3 suites.
        if version == .v1_2 { #expect(cipher.hasPrefix("ECDHE-") && (cipher.contains("GCM") || cipher.contains("CHACHA20")), "\(cipher)") }
        else { #expect(cipher.hasPrefix("TLS_"), "\(cipher)") }

        let clientCertificate = try #require(server.peerCertificate)
        #expect(clientCertificate.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("client", digest: "sha256")))
        #expect(clientCertificate.sha1Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("client", digest: "sha1")))
        #expect(clientCertificate.sha256Fingerprint.count == 64 && clientCertificate.sha1Fingerprint.count == 40)
        #expect(clientCertificate.subject == "CN=client-1,O=Plant")
        let serverCertificate = try #require(client.peerCertificate)
        #expect(serverCertificate.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("server", digest: "sha256")))

        // Application data both ways; the large message spans several 16 KiB records.
        let request = Array("hello from the client".utf8)
        try client.write(request)
        #expect(client.hasOutput)
        exchange(client, server)
        #expect(try readAll(server).data == request)
        var generator = SplitMix64(seed: 14)
        let answer = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try server.write(answer)
        exchange(client, server)
        #expect(try readAll(client).data == answer)

        // close_notify: the server reads the end, and nothing can be written after it.
        client.close()
        #expect(client.state == .closed && client.hasOutput)
        exchange(client, server)
        let end = try readAll(server)
        #expect(end.data.isEmpty && end.closed)
        #expect(server.state == .closed)
        #expect(throws: TLSError.notEstablished(operation: "write")) { try client.write([1]) }
    }

    @Test func dataSentBeforeCloseNotifyIsReadBeforeTheClose() throws {
        let (client, server) = try pair(server: certificates.server(), client: certificates.client(withCertificate: false))
        try #require(handshake(client, server).bothDone)
        try client.write(Array("last words".utf8))
        client.close()
        exchange(client, server)
        #expect(try server.read() == .data(Array("last words".utf8)))
        #expect(try server.read() == .closed)
    }

    @Test func clientRefusesAServerSignedByAnotherCA() throws {
        let (client, server) = try pair(server: certificates.server(), client: certificates.client(trusting: "other-ca"))
        let outcome = handshake(client, server)
        guard case let .failure(.handshakeFailed(role, reason)) = outcome.client else {
            Issue.record("the client accepted a server it cannot verify: \(outcome)")
            return
        }
        #expect(role == .client)
        #expect(reason.contains("certificate verify failed"), "\(reason)")
        // OpenSSL completes the server's chain from its store, so the client sees the Test CA
        // itself (self-signed, unknown to it); without that it would miss the issuer.
        #expect(reason.contains("certificate verification: self-signed certificate in certificate chain")
            || reason.contains("certificate verification: unable to get local issuer certificate"), "\(reason)")
        // The client's alert reached the server, which failed as well rather than waiting.
        guard case .failure = outcome.server else {
            Issue.record("the server did not see the client's alert: \(outcome)")
            return
        }
        #expect(client.state == .failed(.handshakeFailed(role: .client, reason: reason)))
    }

    @Test func clientRefusesAnExpiredServerCertificate() throws {
        let (client, server) = try pair(server: certificates.server("expired"), client: certificates.client())
        let outcome = handshake(client, server)
        guard case let .failure(.handshakeFailed(_, reason)) = outcome.client else {
            Issue.record("the client accepted an expired certificate: \(outcome)")
            return
        }
        #expect(reason.contains("certificate has expired"), "\(reason)")
        #expect(client.state == .failed(.handshakeFailed(role: .client, reason: reason)))
    }

    @Test func clientRefusesAServerCertificateForAnotherName() throws {
        let (client, server) = try pair(server: certificates.server(), client: certificates.client(), serverName: "other.test")
        let outcome = handshake(client, server)
        guard case let .failure(.handshakeFailed(_, reason)) = outcome.client else {
            Issue.record("the client accepted a certificate for another name: \(outcome)")
            return
        }
        #expect(reason.contains("hostname mismatch"), "\(reason)")
    }

    @Test func clientAcceptsTheServerByIPAddressInTheCertificate() throws {
        let (client, server) = try pair(server: certificates.server(), client: certificates.client(), serverName: "127.0.0.1")
        #expect(handshake(client, server).bothDone)
        let (otherClient, otherServer) = try pair(server: certificates.server(), client: certificates.client(), serverName: "127.0.0.2")
        guard case .failure = handshake(otherClient, otherServer).client else {
            Issue.record("the client accepted a certificate without its IP address")
            return
        }
    }

    @Test(arguments: [TLSVersion.v1_2, .v1_3])
    func serverRefusesAClientWithoutTheRequiredCertificate(version: TLSVersion) throws {
        let (client, server) = try pair(server: certificates.server(clientCertificates: .required, version: version),
                                        client: certificates.client(withCertificate: false, version: version))
        let outcome = handshake(client, server)
        guard case let .failure(.handshakeFailed(role, reason)) = outcome.server else {
            Issue.record("the server let in a client without a certificate: \(outcome)")
            return
        }
        #expect(role == .server)
        #expect(reason.contains("peer did not return a certificate"), "\(reason)")
        // TLS 1.2 fails the client's handshake; in 1.3 the client finishes first and learns of
        // the server's alert on its next read.
        if case .success(.done) = outcome.client {
            #expect(version == .v1_3)
            #expect {
                try client.read()
            } throws: { error in
                guard case let .connectionFailed(operation, reason) = error as? TLSError else { return false }
                return operation == "read" && reason.contains("alert certificate required")
            }
        }
        #expect(server.peerCertificate == nil)
    }

    @Test func serverWithOptionalCertificatesLetsInAClientWithout() throws {
        let (client, server) = try pair(server: certificates.server(clientCertificates: .optional),
                                        client: certificates.client(withCertificate: false))
        #expect(handshake(client, server).bothDone)
        #expect(server.peerCertificate == nil)
        #expect(client.peerCertificate != nil)
    }

    @Test(arguments: [
        (Array("GET / HTTP/1.1\r\nHost: server.test\r\n\r\n".utf8), "http request"),
        // A plain MQTT CONNECT sent to a TLS port (MQTT 3.1.1 §3.1): not a TLS record header.
        ([0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00], "wrong version number"),
    ])
    func serverFailsCleanlyOnGarbageInsteadOfAClientHello(garbage: [UInt8], openSSLReason: String) throws {
        let server = try TLSContext.server(certificates.server()).makeServerConnection()
        server.receive(garbage)
        let failure: TLSError
        do throws(TLSError) {
            let progress = try server.handshake()
            Issue.record("the server took garbage for a ClientHello: \(progress)")
            return
        } catch {
            failure = error
        }
        guard case let .handshakeFailed(role, reason) = failure else {
            Issue.record("unexpected error \(failure)")
            return
        }
        #expect(role == .server && reason.contains(openSSLReason), "\(reason)")
        #expect(server.state == .failed(failure))
        // The failure sticks: more input changes nothing, and no data can be read or written.
        server.receive(garbage)
        #expect(throws: failure) { try server.handshake() }
        #expect(throws: failure) { try server.read() }
        #expect(throws: failure) { try server.write([1]) }
    }

    @Test func noDataMovesBeforeTheHandshake() throws {
        let (client, server) = try pair(server: certificates.server(), client: certificates.client())
        #expect(throws: TLSError.notEstablished(operation: "write")) { try client.write([1]) }
        #expect(throws: TLSError.notEstablished(operation: "read")) { try server.read() }
        #expect(!server.hasOutput)
        #expect(try client.handshake() == .needsInput)
        // The ClientHello: a handshake record (content type 22, RFC 8446 §5.1).
        let hello = client.takeOutput()
        #expect(hello.first == 22)
        #expect(client.negotiatedVersion == nil && client.peerCertificate == nil)
    }
}
