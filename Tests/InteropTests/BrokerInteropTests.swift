import Broker
import Foundation
import Glibc
import MQTT
import TestSupport
import Testing

/// The modbridge broker (in process, on 127.0.0.1 and a port it picks) against MQTT clients no
/// one here wrote: Mosquitto's `mosquitto_pub`/`mosquitto_sub` and paho-mqtt (Tests/Peers/paho_peer.py).
/// Peers print one line per message in the same format, `msg <topic> <qos> <retain> <hex payload>`
/// (`mosquitto_sub -F 'msg %t %q %r %x'`), and tests wait on their lines, never on the clock.
@Suite("Interop with mosquitto_pub, mosquitto_sub and paho-mqtt, MQTT clients no one here wrote", .serialized)
struct BrokerInteropTests {
    static let pahoScript: String = {
        // Tests/InteropTests/<this file> → Tests/Peers/paho_peer.py
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/paho_peer.py").path
    }()

    // MARK: - Peers

    /// A peer's output, read line by line: `msg` lines seen while waiting for something else
    /// are kept for `messages`.
    final class Peer {
        let process: ChildProcess
        private var pending: [String] = []

        init(_ executable: String, _ arguments: [String], inheritStandardError: Bool = false) throws {
            process = try ChildProcess(executable, arguments, inheritStandardError: inheritStandardError)
        }

        /// The first line that satisfies `match` (earlier `msg` lines are kept); nil if the peer
        /// ends or stays quiet until the deadline.
        func waitFor(timeout: Duration = .seconds(20), _ match: (String) -> Bool) -> String? {
            let deadline = ContinuousClock.now.advanced(by: timeout)
            while true {
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero, let line = process.readLine(timeout: remaining) else { return nil }
                if match(line) { return line }
                if line.hasPrefix("msg ") { pending.append(line) }
            }
        }

        /// Waits for the subscription's acknowledgement: paho's "subscribed <codes>" line, or
        /// mosquitto_sub's debug line "Client … received SUBACK". Returns that line.
        func subscribed() -> String? {
            waitFor { $0.hasPrefix("subscribed ") || $0.hasSuffix("received SUBACK") }
        }

        /// The next `count` messages (other output skipped); fewer if the peer ends or stays quiet.
        func messages(_ count: Int, timeout: Duration = .seconds(20)) -> [String] {
            var received = Array(pending.prefix(count))
            pending.removeFirst(received.count)
            let deadline = ContinuousClock.now.advanced(by: timeout)
            while received.count < count {
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero, let line = process.readLine(timeout: remaining) else { break }
                if line.hasPrefix("msg ") { received.append(line) }
            }
            return received
        }

        /// Reads the rest of the output (bounded), then reaps the peer: its wait status, 0 if
        /// it exited with 0. A peer still running at the deadline is stopped (non-zero status).
        func finish(timeout: Duration = .seconds(20)) -> Int32 {
            _ = waitFor(timeout: timeout) { _ in false }
            return process.stop()
        }

        func stop() { process.stop() }
    }

    private func paho(_ arguments: [String]) throws -> Peer {
        try Peer("python3", [Self.pahoScript] + arguments, inheritStandardError: true)
    }

    /// mosquitto_sub subscribed to `topics`, ending after `count` messages (or 30 s). `-d` (with
    /// stdout line-buffered by stdbuf) makes it print "received SUBACK", which `subscribed()` waits for.
    private func mosquittoSub(_ port: UInt16, _ topics: [String], qos: QoS, count: Int) throws -> Peer {
        var arguments = ["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", String(port), "-V", "mqttv311", "-d",
                         "-q", String(qos.rawValue), "-C", String(count), "-W", "30", "-F", "msg %t %q %r %x"]
        for topic in topics { arguments += ["-t", topic] }
        return try Peer("stdbuf", arguments)
    }

    /// Runs mosquitto_pub to its end: `message` nil sends an empty payload (`-n`). Its wait status.
    private func mosquittoPub(_ port: UInt16, _ topic: String, qos: QoS, _ message: String?, retain: Bool = false) throws -> Int32 {
        var arguments = ["-h", "127.0.0.1", "-p", String(port), "-V", "mqttv311", "-t", topic, "-q", String(qos.rawValue)]
        arguments += message.map { ["-m", $0] } ?? ["-n"]
        if retain { arguments.append("-r") }
        let publisher = try Peer("mosquitto_pub", arguments)
        defer { publisher.stop() }
        return publisher.finish()
    }

    /// Runs a paho publisher to its end: one message per (qos, message), each complete before the next.
    private func pahoPub(_ port: UInt16, _ topic: String, _ messages: [(QoS, String)], retain: Bool = false) throws -> Int32 {
        var arguments = ["pub", "--port", String(port), "--topic", topic]
        for (qos, message) in messages { arguments += ["--qos", String(qos.rawValue), "--message", message] }
        if retain { arguments.append("--retain") }
        let publisher = try paho(arguments)
        defer { publisher.stop() }
        #expect(publisher.waitFor { $0 == "published" } != nil, "paho did not complete its publishes")
        return publisher.finish()
    }

    /// The line a peer prints for a message.
    private func line(_ topic: String, _ qos: QoS, retain: Bool = false, _ payload: String) -> String {
        line(topic, qos, retain: retain, Array(payload.utf8))
    }

    private func line(_ topic: String, _ qos: QoS, retain: Bool = false, _ payload: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        let hex = String(payload.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
        return "msg \(topic) \(qos.rawValue) \(retain ? 1 : 0) \(hex)"
    }

    /// The same line for a message the modbridge client received.
    private func line(_ publish: Publish) -> String {
        line(publish.topic, publish.qos, retain: publish.retain, publish.payload)
    }

    private func startBroker() throws -> Broker {
        try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: 0))
    }

    // MARK: - 1. mosquitto ↔ mosquitto

    @Test("mosquitto_sub receives from mosquitto_pub at QoS 0, 1 and 2, at the lower of the two QoS",
          arguments: QoS.allCases)
    func mosquittoToMosquitto(subscription: QoS) async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let topic = "interop/mosquitto/\(subscription.rawValue)"

        let subscriber = try mosquittoSub(broker.port, [topic], qos: subscription, count: 3)
        defer { subscriber.stop() }
        try #require(subscriber.subscribed() != nil)

        for qos in QoS.allCases {
            #expect(try mosquittoPub(broker.port, topic, qos: qos, "from mosquitto \(qos.rawValue)") == 0)
        }
        let expected = QoS.allCases.map { line(topic, min($0, subscription), "from mosquitto \($0.rawValue)") }
        #expect(subscriber.messages(3).sorted() == expected.sorted())
        #expect(subscriber.finish() == 0)
    }

    // MARK: - 2. paho ↔ mosquitto and the modbridge client

    @Test("paho subscriber receives from mosquitto_pub and from the modbridge client at QoS 0, 1 and 2",
          arguments: QoS.allCases)
    func pahoSubscriber(subscription: QoS) async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let topic = "interop/paho-sub/\(subscription.rawValue)"

        let subscriber = try paho(["sub", "--port", String(broker.port), "--topic", topic,
                                   "--qos", String(subscription.rawValue), "--count", "6"])
        defer { subscriber.stop() }
        try #require(subscriber.subscribed() == "subscribed \(subscription.rawValue)")

        for qos in QoS.allCases {
            #expect(try mosquittoPub(broker.port, topic, qos: qos, "mosquitto \(qos.rawValue)") == 0)
        }
        let client = try await connect(broker.port, "modbridge-publisher")
        for qos in QoS.allCases {
            try await client.publish(topic: topic, payload: Array("modbridge \(qos.rawValue)".utf8), qos: qos)
        }
        await client.disconnect()

        let expected = QoS.allCases.flatMap {
            [line(topic, min($0, subscription), "mosquitto \($0.rawValue)"), line(topic, min($0, subscription), "modbridge \($0.rawValue)")]
        }
        #expect(subscriber.messages(6).sorted() == expected.sorted())
        #expect(subscriber.finish() == 0)
    }

    @Test("paho publisher reaches mosquitto_sub and the modbridge client at QoS 0, 1 and 2",
          arguments: QoS.allCases)
    func pahoPublisher(subscription: QoS) async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let topic = "interop/paho-pub/\(subscription.rawValue)"

        let subscriber = try mosquittoSub(broker.port, [topic], qos: subscription, count: 3)
        defer { subscriber.stop() }
        try #require(subscriber.subscribed() != nil)
        let client = try await connect(broker.port, "modbridge-subscriber")
        let inbox = Inbox(client)
        #expect(try await client.subscribe([Subscription(filter: topic, qos: subscription)]) == [.granted(subscription)])

        #expect(try pahoPub(broker.port, topic, QoS.allCases.map { ($0, "paho \($0.rawValue)") }) == 0)

        let expected = QoS.allCases.map { line(topic, min($0, subscription), "paho \($0.rawValue)") }
        #expect(subscriber.messages(3).sorted() == expected.sorted())
        #expect(subscriber.finish() == 0)
        #expect(await inbox.wait(for: 3).map { line($0) }.sorted() == expected.sorted())
        await client.disconnect()
    }

    // MARK: - 3. Retained messages

    @Test("A retained message reaches later subscribers with the retain flag; an empty retained message clears it")
    func retained() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let port = String(broker.port)
        let topic = "interop/retained/state", marker = "interop/retained/marker"

        // A subscriber already there gets the message as a live one: retain 0 (MQTT-3.3.1-9).
        let live = try paho(["sub", "--port", port, "--topic", topic, "--qos", "2", "--count", "2"])
        defer { live.stop() }
        try #require(live.subscribed() == "subscribed 2")

        // paho publishes retained at QoS 1.
        #expect(try pahoPub(broker.port, topic, [(.atLeastOnce, "kept by paho")], retain: true) == 0)
        #expect(live.messages(1) == [line(topic, .atLeastOnce, "kept by paho")])
        do {
            let late = try mosquittoSub(broker.port, [topic], qos: .exactlyOnce, count: 1)
            defer { late.stop() }
            #expect(late.messages(1) == [line(topic, .atLeastOnce, retain: true, "kept by paho")])
            #expect(late.finish() == 0)
        }
        do {
            let late = try paho(["sub", "--port", port, "--topic", topic, "--qos", "0", "--count", "1"])
            defer { late.stop() }
            #expect(late.messages(1) == [line(topic, .atMostOnce, retain: true, "kept by paho")])
            #expect(late.finish() == 0)
        }

        // mosquitto_pub -r at QoS 2 replaces it.
        #expect(try mosquittoPub(broker.port, topic, qos: .exactlyOnce, "kept by mosquitto", retain: true) == 0)
        #expect(live.messages(1) == [line(topic, .exactlyOnce, "kept by mosquitto")])
        #expect(live.finish() == 0)
        do {
            let late = try paho(["sub", "--port", port, "--topic", topic, "--qos", "2", "--count", "1"])
            defer { late.stop() }
            #expect(late.messages(1) == [line(topic, .exactlyOnce, retain: true, "kept by mosquitto")])
            #expect(late.finish() == 0)
        }
        do {
            let late = try mosquittoSub(broker.port, [topic], qos: .atLeastOnce, count: 1)
            defer { late.stop() }
            #expect(late.messages(1) == [line(topic, .atLeastOnce, retain: true, "kept by mosquitto")])
            #expect(late.finish() == 0)
        }

        // mosquitto_pub -r -n clears it: later subscribers (to the topic and a marker topic) get
        // the non-retained marker first, and nothing for the topic.
        #expect(try mosquittoPub(broker.port, topic, qos: .atLeastOnce, nil, retain: true) == 0)
        let lateMosquitto = try mosquittoSub(broker.port, [topic, marker], qos: .atLeastOnce, count: 1)
        defer { lateMosquitto.stop() }
        try #require(lateMosquitto.subscribed() != nil)
        let latePaho = try paho(["sub", "--port", port, "--topic", topic, "--topic", marker, "--qos", "1", "--count", "1"])
        defer { latePaho.stop() }
        try #require(latePaho.subscribed() == "subscribed 1 1")
        #expect(try mosquittoPub(broker.port, marker, qos: .atLeastOnce, "marker") == 0)
        #expect(lateMosquitto.messages(1) == [line(marker, .atLeastOnce, "marker")])
        #expect(latePaho.messages(1) == [line(marker, .atLeastOnce, "marker")])
        #expect(lateMosquitto.finish() == 0)
        #expect(latePaho.finish() == 0)
    }

    // MARK: - 4. Wills

    @Test("A paho client killed with SIGKILL has its will published, at its QoS and retained if asked")
    func willOnKill() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let port = String(broker.port)

        let subscriber = try mosquittoSub(broker.port, ["interop/will/#"], qos: .exactlyOnce, count: 4)
        defer { subscriber.stop() }
        try #require(subscriber.subscribed() != nil)

        let cases: [(qos: QoS, retain: Bool)] = [(.atMostOnce, false), (.atLeastOnce, false), (.exactlyOnce, false), (.atLeastOnce, true)]
        for (index, will) in cases.enumerated() {
            let topic = "interop/will/\(index)", payload = "gone \(index)"
            var arguments = ["will", "--port", port, "--id", "doomed-\(index)", "--will-topic", topic,
                             "--will-message", payload, "--will-qos", String(will.qos.rawValue)]
            if will.retain { arguments.append("--will-retain") }
            let doomed = try paho(arguments)
            defer { doomed.stop() }
            try #require(doomed.waitFor { $0 == "connected 0" } != nil)
            kill(doomed.process.pid, SIGKILL)
            doomed.stop()
            // Delivered to a subscription that existed: retain 0 even for a retained will.
            #expect(subscriber.messages(1) == [line(topic, will.qos, payload)], "will \(index)")
        }
        #expect(subscriber.finish() == 0)

        // The retained will is kept for later subscribers.
        let late = try paho(["sub", "--port", port, "--topic", "interop/will/#", "--qos", "2", "--count", "1"])
        defer { late.stop() }
        #expect(late.messages(1) == [line("interop/will/3", .atLeastOnce, retain: true, "gone 3")])
        #expect(late.finish() == 0)
    }

    @Test("A paho client that disconnects cleanly has its will discarded")
    func noWillOnDisconnect() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let topic = "interop/will/polite", marker = "interop/will/marker"

        let subscriber = try mosquittoSub(broker.port, [topic, marker], qos: .exactlyOnce, count: 1)
        defer { subscriber.stop() }
        try #require(subscriber.subscribed() != nil)

        let polite = try paho(["will", "--port", String(broker.port), "--id", "polite", "--will-topic", topic,
                               "--will-message", "should not be sent", "--will-qos", "1", "--then", "disconnect"])
        defer { polite.stop() }
        #expect(polite.waitFor { $0 == "connected 0" } != nil)
        #expect(polite.waitFor { $0 == "disconnected" } != nil)
        #expect(polite.finish() == 0)
        // The broker has seen it go (only the subscriber is left) before the marker is sent.
        #expect(await eventually { broker.statistics.connections == 1 })

        #expect(try mosquittoPub(broker.port, marker, qos: .atLeastOnce, "marker") == 0)
        #expect(subscriber.messages(1) == [line(marker, .atLeastOnce, "marker")])
        #expect(subscriber.finish() == 0)
    }

    // MARK: - 5. Persistent sessions

    @Test("A paho persistent session gets the messages published while it was away, in order",
          arguments: [QoS.atLeastOnce, .exactlyOnce])
    func persistentSession(qos: QoS) async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let port = String(broker.port)
        let topic = "interop/session/\(qos.rawValue)", id = "paho-persistent-\(qos.rawValue)"

        do {
            let first = try paho(["sub", "--port", port, "--id", id, "--clean", "0", "--topic", topic,
                                  "--qos", String(qos.rawValue), "--count", "0"])
            defer { first.stop() }
            #expect(first.waitFor { $0.hasPrefix("connected") } == "connected 0")
            #expect(first.subscribed() == "subscribed \(qos.rawValue)")
            #expect(first.waitFor { $0 == "disconnected" } != nil)
            #expect(first.finish() == 0)
        }
        #expect(await eventually { broker.statistics.connections == 0 })

        let payloads = ["one", "two", "three"]
        for payload in payloads {
            #expect(try mosquittoPub(broker.port, topic, qos: qos, payload) == 0)
        }

        let again = try paho(["sub", "--port", port, "--id", id, "--clean", "0", "--topic", topic,
                              "--no-subscribe", "--count", "3"])
        defer { again.stop() }
        #expect(again.waitFor { $0.hasPrefix("connected") } == "connected 1", "CONNACK session present")
        #expect(again.messages(3) == payloads.map { line(topic, qos, $0) })
        #expect(again.finish() == 0)
    }
}
