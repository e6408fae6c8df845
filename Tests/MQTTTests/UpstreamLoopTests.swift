import Broker
import Glibc
import MQTT
import MQTTClient
import POSIX
import Synchronization
import TLS
import TestSupport
import Testing

/// A source for links on a real loop: thread-safe, since the loop's thread calls it and the test reads it.
final class RecordingSource: UpstreamLinkSource {
    struct State {
        var pending: [OutboundMessage] = []
        var handedOut: [OutboundMessage] = []
        var acknowledged: [UInt64] = []
        var ups = 0
        var downs: [MQTTError] = []
        var received: [Publish] = []
        /// The names of the threads that asked for messages.
        var askingThreads: Set<String> = []
    }

    let state = Mutex(State())

    init(_ messages: [OutboundMessage] = []) { state.withLock { $0.pending = messages } }

    func offer(_ messages: [OutboundMessage]) { state.withLock { $0.pending += messages } }

    func linkUp(sessionPresent: Bool, at now: ContinuousClock.Instant) { state.withLock { $0.ups += 1 } }

    func linkDown(_ error: MQTTError, retryAt: ContinuousClock.Instant, at now: ContinuousClock.Instant) {
        state.withLock { state in
            state.downs.append(error)
            state.pending = state.handedOut + state.pending
            state.handedOut = []
        }
    }

    func nextMessages(limit: Int, at now: ContinuousClock.Instant) -> (messages: [OutboundMessage], askAgainAt: ContinuousClock.Instant?) {
        let thread = currentThreadName()
        return state.withLock { state in
            state.askingThreads.insert(thread)
            let batch = Array(state.pending.prefix(limit))
            state.pending.removeFirst(batch.count)
            state.handedOut += batch
            return (batch, nil)
        }
    }

    func acknowledged(_ token: UInt64, at now: ContinuousClock.Instant) {
        state.withLock { state in
            state.acknowledged.append(token)
            state.handedOut.removeAll { $0.token == token }
        }
    }

    func received(_ publish: Publish) { state.withLock { $0.received.append(publish) } }

    func subscriptionRefused(_ filter: String) {}

    var snapshot: State { state.withLock { $0 } }
}

/// The calling thread's name (/proc/thread-self/comm).
private func currentThreadName() -> String {
    guard let file = fopen("/proc/thread-self/comm", "r") else { return "?" }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 64)
    guard fgets(&line, Int32(line.count), file) != nil else { return "?" }
    return String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `count` messages for `topic`, tokens 1...count, payload "<token>".
private func messages(_ count: Int, topic: String, from first: UInt64 = 1) -> [OutboundMessage] {
    (first..<first + UInt64(count)).map { OutboundMessage(token: $0, topic: topic, payload: Array("\($0)".utf8)) }
}

private func link(_ name: String, port: UInt16, host: String = "127.0.0.1", tls: TLSContext? = nil, serverName: String? = nil,
                  subscriptions: [Subscription] = [], initialDelay: Duration = .milliseconds(100),
                  maximumDelay: Duration = .seconds(1)) -> UpstreamLinkConfiguration {
    UpstreamLinkConfiguration(name: name, host: host, port: port, tls: tls, serverName: serverName,
                              connect: Connect(clientIdentifier: name, cleanSession: true, keepAlive: 30),
                              subscriptions: subscriptions, connectTimeout: .seconds(5),
                              reconnect: ReconnectPolicy(initialDelay: initialDelay, maximumDelay: maximumDelay), maximumInFlight: 32)
}

/// The payloads received on `topic`, in order.
private func payloads(_ received: [Publish], topic: String) -> [String] {
    received.filter { $0.topic == topic }.map { String(decoding: $0.payload, as: UTF8.self) }
}

/// Waits (bounded: 30 s) until `condition` holds.
private func within30Seconds(_ condition: () -> Bool) async -> Bool {
    await eventually(condition, attempts: 3000)
}

@Suite("The upstream loop: many links on one thread, against real brokers")
struct UpstreamLoopTests {
    /// Three links publish 1,000 QoS 1 messages each through `port`; a subscriber per link gets them
    /// all, in order (one each: a broker queues at most 1,000 messages per session, Mosquitto too).
    func publishThousands(port: UInt16) async throws {
        var watchers: [(MQTTClient, Inbox)] = []
        for name in ["a", "b", "c"] {
            let subscriber = try await connect(port, "watcher-\(name)")
            _ = try await subscriber.subscribe([Subscription(filter: "up/\(name)", qos: .atLeastOnce)])
            watchers.append((subscriber, Inbox(subscriber.messages)))
        }
        let log = CapturedLog()
        let loop = try UpstreamLoop(logger: log.logger())
        let names = ["a", "b", "c"]
        let sources = names.map { RecordingSource(messages(1000, topic: "up/\($0)")) }
        let links = zip(names, sources).map { loop.add(link($0, port: port), source: $1) }
        #expect(await within30Seconds { sources.allSatisfy { $0.snapshot.acknowledged.count == 1000 } })
        for (name, (_, inbox)) in zip(names, watchers) {
            #expect(payloads(await inbox.wait(for: 1000), topic: "up/\(name)") == (1...1000).map { "\($0)" })
        }
        for (source, link) in zip(sources, links) {
            #expect(source.snapshot.acknowledged == Array(1...1000))
            #expect(source.snapshot.ups == 1 && source.snapshot.downs.isEmpty)
            #expect(source.snapshot.askingThreads == ["mqtt-upstream"])
            let statistics = link.statistics
            #expect(statistics.isConnected && statistics.connects == 1 && statistics.acknowledged == 1000 && statistics.published == 1000)
        }
        #expect(log.events("upstream_connected").count == 3)
        await loop.stop()
        #expect(links.allSatisfy { !$0.statistics.isConnected })
        for (subscriber, _) in watchers { await subscriber.disconnect() }
    }

    @Test("Three links on one loop publish 1,000 QoS 1 messages each to the project's broker, all acknowledged and received in order")
    func manyLinksToBroker() async throws {
        let broker = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: 0))
        defer { broker.stop() }
        try await publishThousands(port: broker.port)
    }

    @Test("The same against Mosquitto")
    func manyLinksToMosquitto() async throws {
        let mosquitto = try MosquittoBroker()
        defer { mosquitto.stop() }
        try await publishThousands(port: mosquitto.port)
    }

    @Test("A broker stopped and started again on the same port: the link reconnects, subscribes again and delivers what the source offers")
    func reconnectAfterRestart() async throws {
        let port = freePort()
        var broker = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: port))
        let log = CapturedLog()
        let loop = try UpstreamLoop(logger: log.logger())
        let source = RecordingSource(messages(10, topic: "up/r"))
        let upstream = loop.add(link("r", port: port, subscriptions: [Subscription(filter: "down/r/#", qos: .atLeastOnce)]), source: source)
        #expect(await within30Seconds { source.snapshot.acknowledged.count == 10 })

        await broker.stop()
        #expect(await within30Seconds { !source.snapshot.downs.isEmpty })
        #expect(!upstream.statistics.isConnected)
        // Offered while the broker is away: delivered after the reconnect.
        source.offer(messages(5, topic: "up/r", from: 11))
        upstream.wake()

        broker = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: port))
        defer { broker.stop() }
        #expect(await within30Seconds { source.snapshot.ups == 2 })
        #expect(await within30Seconds { source.snapshot.acknowledged.count == 15 })
        #expect(source.snapshot.acknowledged == Array(1...15))
        let subscriber = try await connect(port, "watcher")
        _ = try await subscriber.subscribe([Subscription(filter: "up/r", qos: .atLeastOnce)])
        let inbox = Inbox(subscriber.messages)
        #expect(log.events("upstream_disconnected").count == 1)
        #expect(log.events("upstream_disconnected").first?.level == .error)

        // Subscribed again: a command published now reaches the source.
        source.offer(messages(1, topic: "up/r", from: 16))
        upstream.wake()
        let delivered = await inbox.wait(for: 1)
        #expect(delivered.first.map { String(decoding: $0.payload, as: UTF8.self) } == "16")
        try await subscriber.publish(topic: "down/r/set", payload: Array("go".utf8), qos: .atLeastOnce)
        #expect(await within30Seconds { source.snapshot.received.map(\.topic) == ["down/r/set"] })
        await subscriber.disconnect()
        await upstream.remove()
        #expect(!upstream.statistics.isConnected)
        await loop.stop()
    }

    @Test("A host name (localhost) is resolved off the loop and connected to")
    func hostName() async throws {
        let broker = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: 0))
        defer { broker.stop() }
        let loop = try UpstreamLoop(logger: .discarding)
        let source = RecordingSource(messages(3, topic: "up/h"))
        let upstream = loop.add(link("h", port: broker.port, host: "localhost"), source: source)
        #expect(await within30Seconds { source.snapshot.acknowledged.count == 3 })
        #expect(upstream.statistics.isConnected)
        await loop.stop()
    }

    @Test("TLS to the project's broker: the server is verified against the CA and the name, messages flow")
    func tlsVerified() async throws {
        let certificates = try TestCertificates()
        let broker = try startTLSBroker(certificates)
        defer { broker.stop() }
        let log = CapturedLog()
        let loop = try UpstreamLoop(logger: log.logger())
        let source = RecordingSource(messages(50, topic: "up/t"))
        let context = try TLSContext.client(certificates.client(withCertificate: false))
        let upstream = loop.add(link("t", port: broker.port, tls: context, serverName: "server.test"), source: source)
        #expect(await within30Seconds { source.snapshot.acknowledged.count == 50 })
        #expect(upstream.statistics.connects == 1)
        #expect(log.events("upstream_connected").first?["tls"]?.hasPrefix("TLSv1.") == true)
        await loop.stop()
    }

    @Test("TLS with the wrong CA: each attempt fails with a clear reason, and attempts are spaced by the backoff")
    func tlsWrongAuthority() async throws {
        let certificates = try TestCertificates()
        let broker = try startTLSBroker(certificates)
        defer { broker.stop() }
        let log = CapturedLog()
        let loop = try UpstreamLoop(logger: log.logger())
        let source = RecordingSource(messages(1, topic: "up/w"))
        let context = try TLSContext.client(certificates.client(trusting: "other-ca", withCertificate: false))
        // 100 ms doubling up to 60 s: fewer than 30 attempts in any window shorter than 20 minutes,
        // however slow the machine; a loop without delays would make thousands a second.
        let upstream = loop.add(link("w", port: broker.port, tls: context, serverName: "server.test", maximumDelay: .seconds(60)), source: source)
        #expect(await within30Seconds { source.snapshot.downs.count >= 2 })
        try await Task.sleep(for: .milliseconds(1500))
        let failures = log.events("upstream_connect_failed")
        await loop.stop()
        #expect(failures.count > 1 && failures.count < 30)
        #expect(failures.allSatisfy { $0.level == .error && ($0["error"] ?? "").hasPrefix("TLS handshake failed") })
        #expect(failures.first?["error"]?.contains("certificate verif") == true)
        #expect(upstream.statistics.connectFailures == source.snapshot.downs.count)
        #expect(source.snapshot.ups == 0)
    }

    @Test("Nothing listening: connection refused, retried with backoff; remove() ends it")
    func refusedThenRemoved() async throws {
        let log = CapturedLog()
        let loop = try UpstreamLoop(logger: log.logger())
        let source = RecordingSource()
        let upstream = loop.add(link("n", port: freePort()), source: source)
        #expect(await within30Seconds { source.snapshot.downs.count >= 2 })
        #expect(log.events("upstream_connect_failed").first?["error"]?.hasPrefix("connection refused by 127.0.0.1:") == true)
        await upstream.remove()
        let count = source.snapshot.downs.count
        try await Task.sleep(for: .milliseconds(300))
        #expect(source.snapshot.downs.count == count)
        await loop.stop()
    }
}

/// A broker with one TLS listener on 127.0.0.1 (server.test's certificate).
private func startTLSBroker(_ certificates: TestCertificates) throws -> Broker {
    let context = try TLSContext.server(certificates.server())
    var configuration = BrokerConfiguration(host: "127.0.0.1", port: 0)
    configuration.listeners = [ListenerConfiguration(host: "127.0.0.1", port: 0, security: .tls(context))]
    return try Broker.start(configuration)
}
