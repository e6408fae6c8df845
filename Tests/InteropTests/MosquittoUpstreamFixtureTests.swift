import Glibc
import MQTT
import MQTTClient
import TestSupport
import Testing

/// TestSupport.MosquittoUpstream does what the upstream tests count on: Mosquitto 2's ACL keeps a
/// device user to its own topics (denied publishes are acknowledged and dropped), a client
/// certificate's CN is the user name over TLS, wrong passwords get CONNACK 5, a restart keeps its
/// ports and, with persistence, a consumer's session and the messages queued for it.
@Suite("MosquittoUpstream: the Mosquitto fixture of the upstream tests")
struct MosquittoUpstreamFixtureTests {
    static let devices = [MosquittoUser("dev-1", password: "dev-1-password"), MosquittoUser("dev-2", password: "dev-2-password")]

    private func text(_ publishes: [Publish]) -> [String] {
        publishes.map { "\($0.topic) \(String(decoding: $0.payload, as: UTF8.self))" }
    }

    @Test("A device user publishes on its own topics only: another device's publish is acknowledged and reaches no one")
    func ownTopicsOnly() async throws {
        let upstream = try MosquittoUpstream(MosquittoUpstreamOptions(users: Self.devices))
        defer { upstream.stop() }
        let consumer = try await upstream.connectConsumer()
        let inbox = Inbox(consumer)
        #expect(try await consumer.subscribe([Subscription(filter: "plant/#", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
        let device = try await upstream.connect(as: "dev-1")

        // Mosquitto 2 answers a denied QoS 1 PUBLISH with PUBACK, drops it and keeps the connection.
        try await device.publish(topic: "plant/dev-2/events", payload: Array("denied".utf8), qos: .atLeastOnce)
        try await device.publish(topic: "plant/dev-1/events", payload: Array("own".utf8), qos: .atLeastOnce)
        // dev-1's packets are routed in order: once "own" arrived, "denied" would have arrived before it.
        #expect(text(await inbox.wait(for: 1)) == ["plant/dev-1/events own"], "\(upstream.log)")
        #expect(upstream.log.contains("Denied PUBLISH"))

        // The consumer writes to a device's topics, the device reads its own. A filter on another
        // device's topics is granted all the same: the acl_file is checked per message delivered.
        let deviceInbox = Inbox(device)
        let filters = ["plant/dev-2/commands", "plant/dev-1/commands"].map { Subscription(filter: $0, qos: .atLeastOnce) }
        #expect(try await device.subscribe(filters) == [.granted(.atLeastOnce), .granted(.atLeastOnce)])
        try await consumer.publish(topic: "plant/dev-2/commands", payload: Array("not yours".utf8), qos: .atLeastOnce)
        try await consumer.publish(topic: "plant/dev-1/commands", payload: Array("go".utf8), qos: .atLeastOnce)
        #expect(text(await deviceInbox.wait(for: 1)) == ["plant/dev-1/commands go"])

        await device.disconnect()
        await consumer.disconnect()
    }

    @Test("Over TLS a client certificate's CN is the user name (a -u given beside it is ignored) and the ACL applies to it; no certificate, no handshake")
    func certificateLogin() async throws {
        let certificates = try TestCertificates()
        try certificates.makeClientCertificate("dev-1-cert", commonName: "dev-1")
        let upstream = try MosquittoUpstream(MosquittoUpstreamOptions(users: Self.devices, certificates: certificates))
        defer { upstream.stop() }
        let consumer = try await upstream.connectConsumer()
        let inbox = Inbox(consumer)
        _ = try await consumer.subscribe([Subscription(filter: "plant/#", qos: .atLeastOnce)])
        let tlsPort = try #require(upstream.tlsPort)
        let tlsPasswordPort = try #require(upstream.tlsPasswordPort)
        let withCertificate = ["--cert", certificates.path("dev-1-cert.pem"), "--key", certificates.path("dev-1-cert.key")]

        // Logged in as dev-1 whatever the user name says: dev-2's topic is denied, dev-1's allowed.
        #expect(try publish(upstream, port: tlsPort, certificates, withCertificate + ["-u", "dev-2"], "plant/dev-2/events", "as dev-2").exitCode == 0)
        #expect(try publish(upstream, port: tlsPort, certificates, withCertificate + ["-u", "dev-2"], "plant/dev-1/events", "tls").exitCode == 0)
        #expect(text(await inbox.wait(for: 1)) == ["plant/dev-1/events tls"], "\(upstream.log)")
        #expect(upstream.log.contains("u'dev-1'"))

        // Without a client certificate the handshake fails: mosquitto_pub ends with an error.
        let anonymous = try publish(upstream, port: tlsPort, certificates, ["-u", "dev-1", "-P", "dev-1-password"], "plant/dev-1/events", "no certificate")
        #expect(anonymous.exitCode != 0)

        // The TLS password listener checks passwords.
        #expect(try publish(upstream, port: tlsPasswordPort, certificates, ["-u", "dev-2", "-P", "dev-2-password"], "plant/dev-2/events", "tls password").exitCode == 0)
        let wrong = try publish(upstream, port: tlsPasswordPort, certificates, ["-u", "dev-2", "-P", "wrong"], "plant/dev-2/events", "wrong")
        #expect(wrong.exitCode == 5 && wrong.error.contains("not authorised"), "\(wrong)")
        #expect(text(await inbox.wait(for: 2)) == ["plant/dev-1/events tls", "plant/dev-2/events tls password"])
        await consumer.disconnect()
    }

    @Test("A wrong password, an unknown user and an anonymous login get CONNACK 5; a password changed or removed counts from the next login")
    func refusedLogins() throws {
        let upstream = try MosquittoUpstream(MosquittoUpstreamOptions(users: Self.devices))
        defer { upstream.stop() }
        func answer(_ username: String?, _ password: String?) throws -> ConnectReturnCode {
            let client = try RawMQTTClient(port: upstream.port)
            defer { client.close() }
            return try client.connect(Connect(clientIdentifier: "probe", username: username, password: password.map { Array($0.utf8) })).returnCode
        }
        #expect(try answer("dev-1", "dev-2-password") == .notAuthorized)
        #expect(try answer("nobody", "dev-1-password") == .notAuthorized)
        #expect(try answer(nil, nil) == .notAuthorized)
        #expect(try answer("dev-1", "dev-1-password") == .accepted)

        try upstream.setPassword("changed", for: "dev-1")
        #expect(try answer("dev-1", "dev-1-password") == .notAuthorized)
        #expect(try answer("dev-1", "changed") == .accepted)
        try upstream.removeUser("dev-2")
        #expect(try answer("dev-2", "dev-2-password") == .notAuthorized)
    }

    @Test("Restarted on the same port, with persistence: a persistent consumer gets the QoS 1 messages of before and after the restart")
    func restartKeepsSession() async throws {
        let upstream = try MosquittoUpstream(MosquittoUpstreamOptions(users: Self.devices, persistence: true))
        defer { upstream.stop() }
        let away = try await upstream.connectConsumer(clientIdentifier: "cloud", cleanSession: false)
        _ = try await away.subscribe([Subscription(filter: "plant/#", qos: .atLeastOnce)])
        await away.disconnect()

        let before = try await upstream.connect(as: "dev-1")
        try await before.publish(topic: "plant/dev-1/events", payload: Array("before".utf8), qos: .atLeastOnce)
        await before.disconnect()
        let port = upstream.port
        upstream.stop()
        #expect(!acceptsConnections(port: port))
        try upstream.start()
        #expect(upstream.port == port && acceptsConnections(port: port))

        let after = try await upstream.connect(as: "dev-1")
        try await after.publish(topic: "plant/dev-1/events", payload: Array("after".utf8), qos: .atLeastOnce)
        await after.disconnect()
        let back = try await upstream.connectConsumer(clientIdentifier: "cloud", cleanSession: false)
        #expect(back.sessionPresent)
        #expect(text(await Inbox(back).wait(for: 2)) == ["plant/dev-1/events before", "plant/dev-1/events after"], "\(upstream.log)")
        await back.disconnect()

        // kill() ends it at once; start() serves on the same port again.
        upstream.kill()
        #expect(!upstream.isRunning)
        try upstream.start()
        let again = try await upstream.connect(as: "dev-2")
        await again.disconnect()
    }

    @Test("Topics beginning with $: a client publishes and subscribes to them by name; `#` matches none of them, in subscriptions or in the ACL")
    func dollarTopics() async throws {
        // `watcher` may use `#` and nothing else: the ACL's `#` does not reach `$devices/...`.
        let options = MosquittoUpstreamOptions(users: Self.devices + [MosquittoUser("watcher", password: "watcher-password")],
                                               extraACL: ["user watcher", "topic readwrite #"])
        let upstream = try MosquittoUpstream(options)
        defer { upstream.stop() }
        let exact = try await upstream.connectConsumer(clientIdentifier: "exact")
        let exactInbox = Inbox(exact)
        let everything = try await upstream.connectConsumer(clientIdentifier: "everything")
        let everythingInbox = Inbox(everything)
        let watcher = try await upstream.connect(as: "watcher")
        let watcherInbox = Inbox(watcher)
        #expect(try await exact.subscribe([Subscription(filter: "$devices/dev-1/events", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
        #expect(try await everything.subscribe([Subscription(filter: "#", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
        // Granted, yet nothing is delivered: read access is checked per message.
        #expect(try await watcher.subscribe([Subscription(filter: "$devices/#", qos: .atLeastOnce),
                                              Subscription(filter: "plant/#", qos: .atLeastOnce)]) == [.granted(.atLeastOnce), .granted(.atLeastOnce)])

        let device = try await upstream.connect(as: "dev-1")
        try await device.publish(topic: "$devices/dev-1/events", payload: Array("dollar".utf8), qos: .atLeastOnce)
        try await device.publish(topic: "plant/dev-1/events", payload: Array("end".utf8), qos: .atLeastOnce)
        #expect(text(await exactInbox.wait(for: 1)) == ["$devices/dev-1/events dollar"], "\(upstream.log)")
        #expect(text(await everythingInbox.wait(for: 1)) == ["plant/dev-1/events end"])
        #expect(text(await watcherInbox.wait(for: 1)) == ["plant/dev-1/events end"])

        // Commands the other way: the device subscribes to its `$devices/.../commands` by name.
        let deviceInbox = Inbox(device)
        #expect(try await device.subscribe([Subscription(filter: "$devices/dev-1/commands/#", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
        try await exact.publish(topic: "$devices/dev-1/commands/reset", payload: Array("now".utf8), qos: .atLeastOnce)
        #expect(text(await deviceInbox.wait(for: 1)) == ["$devices/dev-1/commands/reset now"])
        for client in [device, exact, everything, watcher] { await client.disconnect() }
    }

    /// What a mosquitto_pub run ended with.
    struct Outcome {
        let exitCode: Int32?
        let error: String
    }

    /// mosquitto_pub at QoS 1 (it waits for the PUBACK) over TLS trusting the test CA, to its end.
    private func publish(_ upstream: MosquittoUpstream, port: UInt16, _ certificates: TestCertificates, _ login: [String],
                         _ topic: String, _ message: String) throws -> Outcome {
        let errorFile = certificates.path("mosquitto_pub-\(UInt32.random(in: 0...UInt32.max)).err")
        let arguments = ["-h", upstream.host, "-p", String(port), "-V", "mqttv311", "--cafile", certificates.path("ca.pem"),
                         "-q", "1", "-t", topic, "-m", message] + login
        let status = try ChildProcess("mosquitto_pub", arguments, standardErrorFile: errorFile).waitForExit(timeout: .seconds(20))
        var error = ""
        if let file = fopen(errorFile, "r") {
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 512)
            while fgets(&line, Int32(line.count), file) != nil { error += String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return Outcome(exitCode: ChildProcess.exitCode(status), error: error)
    }
}
