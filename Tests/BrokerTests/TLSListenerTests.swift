import Broker
import Glibc
import MQTT
import POSIX
import Synchronization
import TLS
import TestSupport
import Testing

/// Lets every client in and keeps what each CONNECT showed it.
private final class RecordingPolicy: BrokerPolicy {
    private let requests = Mutex<[ConnectRequest]>([])

    func authenticate(_ request: ConnectRequest) -> AuthenticationStep {
        requests.withLock { $0.append(request) }
        return .decided(.accepted(ClientIdentity(clientID: request.clientID, username: request.username, remoteAddress: request.remoteAddress),
                                  OpenSessionPolicy.shared))
    }

    /// The channel of the last CONNECT with `clientID`.
    func channel(of clientID: String) -> ConnectChannel? {
        requests.withLock { $0.last { $0.clientID == clientID }?.channel }
    }
}

/// A broker with one TLS listener on 127.0.0.1 (server.test's certificate), asking clients for
/// a certificate without verifying it; `version` alone if given.
private func startTLSBroker(_ certificates: TestCertificates, version: TLSVersion? = nil, policy: any BrokerPolicy = OpenPolicy(),
                            logger: Logger = .discarding, handshakeTimeout: Duration = .seconds(10)) throws -> Broker {
    let context = try TLSContext.server(TLSConfiguration(certificateChain: certificates.pem("server"), privateKey: certificates.key("server"),
                                                         clientCertificates: .requestedUnverified,
                                                         minimumVersion: version ?? .v1_2, maximumVersion: version ?? .v1_3))
    return try startBroker({ configuration in
        configuration.listeners = [ListenerConfiguration(host: "127.0.0.1", port: 0, security: .tls(context))]
        configuration.tlsHandshakeTimeout = handshakeTimeout
    }, policy: policy, logger: logger)
}

/// mosquitto_sub/pub options for the broker's TLS port, trusting the Test CA, presenting the
/// certificate `device` if given.
private func mosquittoTLS(_ broker: Broker, _ certificates: TestCertificates, version: String, device: String? = nil) -> [String] {
    ["-h", "127.0.0.1", "-p", "\(broker.port)", "--cafile", certificates.path("ca.pem"), "--tls-version", version]
        + (device.map { ["--cert", certificates.path($0 + ".pem"), "--key", certificates.path($0 + ".key")] } ?? [])
}

/// mosquitto_sub at QoS 1 for `count` messages on `topic` (each payload on a line of its own),
/// returned once the broker holds its subscription.
private func subscribedMosquitto(_ broker: Broker, _ options: [String], id: String, topic: String, count: Int) throws -> ChildProcess {
    let before = broker.statistics.subscriptions
    let process = try ChildProcess("mosquitto_sub", options + ["-i", id, "-t", topic, "-q", "1", "-C", "\(count)"])
    for _ in 0..<2000 where process.isRunning {
        if broker.statistics.subscriptions > before { return process }
        usleep(10_000)
    }
    process.stop()
    throw RawClientError.failed("mosquitto_sub \(id) never subscribed")
}

/// Reads the process's lines until one is `expected`; false if it never comes.
private func waitForLine(_ process: ChildProcess, _ expected: String) -> Bool {
    while let line = process.readLine(timeout: .seconds(20)) {
        if line == expected { return true }
    }
    return false
}

/// A TLS client over a socket, driven step by step through the TLS module (no MQTT library).
private final class RawTLSClient {
    let socket: Socket
    let session: TLSConnection

    init(port: UInt16, certificates: TestCertificates) throws {
        socket = try Socket.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
        session = try TLSContext.client(certificates.client(withCertificate: false)).makeClientConnection(serverName: "server.test")
    }

    func sendOutput() throws {
        if session.hasOutput { try socket.writeAll(session.takeOutput()) }
    }

    /// Feeds the session what the server sends next; false at the end of the stream.
    func receive() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            guard try socket.wait(for: Int16(POLLIN), timeout: .seconds(10)) else { throw RawClientError.timedOut }
            guard let count = try buffer.withUnsafeMutableBytes({ try socket.read(into: $0) }) else { continue }
            if count == 0 { return false }
            session.receive(buffer[0..<count])
            return true
        }
    }

    func handshake() throws {
        while try session.handshake() == .needsInput {
            try sendOutput()
            guard try receive() else { throw RawClientError.closed }
        }
        try sendOutput()
    }

    func send(_ packets: [MQTTPacket]) throws {
        try session.write(packets.flatMap { try $0.encoded() })
        try sendOutput()
    }

    /// Everything until the server closes the socket: the plaintext, whether close_notify
    /// came, whether the socket was closed.
    func readUntilClosed() throws -> (plaintext: [UInt8], closeNotify: Bool, closed: Bool) {
        let received = receiveUntilClosed(socket, timeout: .seconds(10))
        session.receive(received.bytes)
        var plaintext: [UInt8] = []
        while true {
            switch try session.read() {
            case let .data(bytes): plaintext += bytes
            case .needsInput: return (plaintext, false, received.closed)
            case .closed: return (plaintext, true, received.closed)
            }
        }
    }
}

/// What a server session answers `bytes` with when they come instead of a ClientHello (an
/// alert, or nothing where OpenSSL sends none), as a TLS module session in memory says.
private func openSSLAnswer(to bytes: [UInt8], _ certificates: TestCertificates) throws -> [UInt8] {
    let server = try TLSContext.server(certificates.server()).makeServerConnection()
    server.receive(bytes)
    #expect(throws: TLSError.self) { try server.handshake() }
    return server.takeOutput()
}

@Suite("Broker: TLS listeners (handshake in the reactor, client certificates to the policy, bad input refused and counted)")
struct TLSListenerTests {
    @Test("mosquitto over TLS 1.2 and 1.3: a QoS 1 round trip; the policy sees the self-signed device certificate the publisher presented (its fingerprint as the openssl CLI prints it) and none for the subscriber",
          arguments: [("tlsv1.2", TLSVersion.v1_2), ("tlsv1.3", TLSVersion.v1_3)])
    func mosquittoRoundTrip(cliVersion: String, version: TLSVersion) throws {
        let certificates = try TestCertificates()
        let policy = RecordingPolicy()
        let broker = try startTLSBroker(certificates, version: version, policy: policy)
        defer { broker.stop() }
        let subscriber = try subscribedMosquitto(broker, mosquittoTLS(broker, certificates, version: cliVersion), id: "sub", topic: "plant/oven", count: 1)
        defer { subscriber.stop() }
        let publisher = try ChildProcess("mosquitto_pub", mosquittoTLS(broker, certificates, version: cliVersion, device: "device")
                                         + ["-i", "pub", "-t", "plant/oven", "-q", "1", "-m", "hot"])
        // mosquitto_pub at QoS 1 exits 0 only after the broker's PUBACK.
        #expect(ChildProcess.exitCode(publisher.waitForExit(timeout: .seconds(30))) == 0)
        #expect(waitForLine(subscriber, "hot"))
        #expect(ChildProcess.exitCode(subscriber.waitForExit(timeout: .seconds(30))) == 0)

        #expect(policy.channel(of: "sub") == .tls(clientCertificate: nil))
        guard case let .tls(certificate?)? = policy.channel(of: "pub") else {
            Issue.record("the policy did not see the publisher's certificate: \(String(describing: policy.channel(of: "pub")))")
            return
        }
        #expect(certificate.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("device", digest: "sha256")))
        #expect(certificate.subject == "CN=device-1")
    }

    @Test("An expired self-signed device certificate gets through TLS: the policy sees it, with notAfter in the past")
    func expiredDeviceCertificate() throws {
        let certificates = try TestCertificates()
        let policy = RecordingPolicy()
        let broker = try startTLSBroker(certificates, policy: policy)
        defer { broker.stop() }
        let publisher = try ChildProcess("mosquitto_pub", mosquittoTLS(broker, certificates, version: "tlsv1.3", device: "device-expired")
                                         + ["-i", "old", "-t", "plant/oven", "-q", "1", "-m", "late"])
        #expect(ChildProcess.exitCode(publisher.waitForExit(timeout: .seconds(30))) == 0)
        guard case let .tls(certificate?)? = policy.channel(of: "old") else {
            Issue.record("the policy did not see the certificate: \(String(describing: policy.channel(of: "old")))")
            return
        }
        #expect(certificate.sha256Fingerprint == Certificate.normalizedFingerprint(try certificates.fingerprintByCLI("device-expired", digest: "sha256")))
        #expect(certificate.notAfter < Int64(time(nil)))
    }

    @Test("A clean end: CONNECT and DISCONNECT over TLS get the CONNACK, then close_notify, then the socket closes")
    func closeNotifyOnCleanClose() throws {
        let certificates = try TestCertificates()
        let broker = try startTLSBroker(certificates)
        defer { broker.stop() }
        let client = try RawTLSClient(port: broker.port, certificates: certificates)
        defer { client.socket.close() }
        try client.handshake()
        try client.send([.connect(Connect(clientIdentifier: "tidy")), .disconnect])
        let end = try client.readUntilClosed()
        #expect(end.plaintext == [0x20, 0x02, 0x00, 0x00])
        #expect(end.closeNotify && end.closed)
    }

    @Test("Bad input on a TLS port (silent until the handshake timeout, garbage, a handshake stopped halfway, plain MQTT): each closed, counted and logged, while a TLS subscriber keeps receiving")
    func badInputIsRefusedAndCounted() async throws {
        let certificates = try TestCertificates()
        let log = CapturedLog()
        let broker = try startTLSBroker(certificates, logger: log.logger(), handshakeTimeout: .seconds(1))
        defer { broker.stop() }
        let port = broker.port
        let subscriber = try subscribedMosquitto(broker, mosquittoTLS(broker, certificates, version: "tlsv1.3"), id: "steady", topic: "feed", count: 5)
        defer { subscriber.stop() }
        let feeder = try await broker.connectLocal(ClientIdentity(clientID: "feeder", remoteAddress: "in-process"))
        func stillServed(failures: Int, _ payload: String) async throws {
            #expect(await eventually { broker.statistics.tlsHandshakesFailed == failures }, "after \(payload)")
            try await feeder.publish(topic: "feed", payload: Array(payload.utf8), qos: .atLeastOnce)
            #expect(waitForLine(subscriber, payload))
        }

        // Connected and silent: closed at the handshake timeout, nothing sent.
        let silent = try Socket.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
        #expect(receiveUntilClosed(silent, timeout: .seconds(10)) == RawExchange(bytes: [], closed: true))
        silent.close()
        try await stillServed(failures: 1, "after-silent")

        // An HTTP request instead of a ClientHello: what OpenSSL answers it with, then the close.
        let request = Array("GET / HTTP/1.1\r\nHost: server.test\r\n\r\n".utf8)
        let garbage = try exchange(port: port, request, timeout: .seconds(10))
        #expect(garbage == RawExchange(bytes: try openSSLAnswer(to: request, certificates), closed: true))
        try await stillServed(failures: 2, "after-garbage")

        // A ClientHello, the server's answer, and then the client hangs up.
        let halfway = try RawTLSClient(port: port, certificates: certificates)
        #expect(try halfway.session.handshake() == .needsInput)
        try halfway.sendOutput()
        #expect(try halfway.receive())
        halfway.socket.close()
        try await stillServed(failures: 3, "after-halfway")

        // Plain MQTT on the TLS port: no CONNACK, what OpenSSL answers, the close.
        let connect = try MQTTPacket.connect(Connect(clientIdentifier: "plain")).encoded()
        let plain = try exchange(port: port, connect, timeout: .seconds(10))
        #expect(plain == RawExchange(bytes: try openSSLAnswer(to: connect, certificates), closed: true))
        try await stillServed(failures: 4, "after-plain")

        let lines = log.events("tls_handshake_failed")
        #expect(lines.count == 4)
        #expect(lines.allSatisfy { $0["listener"] == "127.0.0.1:\(port)" && $0["address"]?.hasPrefix("127.0.0.1") == true })
        #expect(lines.first?["reason"]?.contains("no handshake within") == true, "\(lines.first?.line ?? "")")
        #expect(lines.dropFirst(2).first?["reason"]?.contains("closed the connection during the handshake") == true)
        #expect(broker.statistics.tlsHandshakesFailed == 4)
    }
}
