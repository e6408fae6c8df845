import Broker
import Glibc
import MQTT
import TestSupport
import Testing

@Suite("Broker: retained messages replayed through the topic-level store, and one client's SUBSCRIBEs do not stall the others")
struct RetainedReplayTests {
    /// Publishes `plant/<0..<plants>/dev/<0..<100>` retained (payload: the topic) in one write,
    /// and returns once the broker has handled them all.
    private static func publishPlants(_ broker: Broker, plants: Int) async throws {
        let topics = (0..<plants).flatMap { plant in (0..<100).map { "plant/\(plant)/dev/\($0)" } }
        try await publishRetained(broker, topics: topics) { Array($0) }
    }

    /// Publishes a retained message on each topic in one write; returns when the broker holds them.
    private static func publishRetained(_ broker: Broker, topics: [String], payload: (String) -> [UInt8]) async throws {
        let publisher = try rawClient(broker, "retainer")
        var bytes: [UInt8] = []
        for topic in topics {
            bytes += try MQTTPacket.publish(Publish(topic: topic, payload: payload(topic), retain: true)).encoded()
        }
        bytes += try MQTTPacket.pingRequest.encoded()
        try publisher.send(bytes: bytes)
        #expect(try publisher.next(timeout: .seconds(120)) == .pingResponse)
        publisher.close()
        // The statistics are published at the end of the turn, after the PINGRESP went out.
        #expect(await eventually { broker.statistics.retainedMessages == topics.count })
    }

    @Test("50,000 retained: 500 wildcard SUBSCRIBEs pipelined in one write do not hold back a second client's PINGREQ and PUBLISH sent after them")
    func pipelinedSubscribesAreSpreadOverTurns() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        try await Self.publishPlants(broker, plants: 500)

        let greedy = try rawClient(broker, "greedy")
        _ = try greedy.subscribe([Subscription(filter: "marker", qos: .atMostOnce)])
        let polite = try rawClient(broker, "polite")
        // Each `plant/<n>/#` matches 100 retained messages: 50,000 deliveries in all.
        var subscribes: [UInt8] = []
        for plant in 0..<500 {
            subscribes += try MQTTPacket.subscribe(Subscribe(packetIdentifier: UInt16(plant + 1),
                                                             subscriptions: [Subscription(filter: "plant/\(plant)/#", qos: .atMostOnce)])).encoded()
        }
        let pingThenMarker = try MQTTPacket.pingRequest.encoded()
            + MQTTPacket.publish(Publish(topic: "marker", payload: Array("polite was served"))).encoded()
        try greedy.send(bytes: subscribes)
        try polite.send(bytes: pingThenMarker)

        // The marker lands in the greedy client's stream at the point where the broker handled the
        // polite client's packets (its PINGREQ just before): that must be before the last SUBACK.
        // Handling all 500 first (one client owning the reactor) puts it after them.
        var acknowledged = 0
        var acknowledgedBeforeMarker: Int?
        var retainedReceived = 0
        while acknowledged < 500 {
            switch try greedy.next(timeout: .seconds(120)) {
            case let .subscribeAcknowledgement(acknowledgement):
                #expect(acknowledgement.packetIdentifier == UInt16(acknowledged + 1))
                acknowledged += 1
            case let .publish(publish) where publish.topic == "marker":
                acknowledgedBeforeMarker = acknowledged
            case let .publish(publish):
                #expect(publish.retain && publish.payload == Array(publish.topic))
                retainedReceived += 1
            case let other:
                Issue.record("unexpected \(MQTTPacket.name(ofType: other.packetType))")
            }
        }
        while retainedReceived < 50_000 || acknowledgedBeforeMarker == nil {
            let publish = try greedy.nextPublish(timeout: .seconds(120))
            if publish.topic == "marker" { acknowledgedBeforeMarker = acknowledged } else { retainedReceived += 1 }
        }
        #expect(try polite.next(timeout: .seconds(60)) == .pingResponse)
        #expect(retainedReceived == 50_000)
        let before = try #require(acknowledgedBeforeMarker)
        #expect(before < 500, "the polite client's packets were handled only after all 500 SUBSCRIBEs")
        #expect(greedy.staysQuiet(for: .milliseconds(200)))
    }

    @Test("Replay through sockets: + and # (with its parent level), the $ rule, empty levels, replace and clear")
    func replay() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let publisher = try rawClient(broker, "pub")
        let topics = ["site/a", "site/a/t", "site/b/t", "site//t", "$SYS/load", "/lead"]
        for topic in topics {
            try publisher.send(.publish(Publish(topic: topic, payload: Array("1 " + topic), retain: true)))
        }
        try publisher.send(.publish(Publish(topic: "site/a/t", payload: Array("2 site/a/t"), qos: .atLeastOnce, retain: true, packetIdentifier: 1)))
        try publisher.send(.publish(Publish(topic: "site/b/t", payload: [], retain: true)))  // clears (3.3.1.3)
        try publisher.send(.publish(Publish(topic: "never/set", payload: [], retain: true)))  // clears nothing
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 1))
        try publisher.send(.pingRequest)
        #expect(try publisher.next() == .pingResponse)
        #expect(broker.statistics.retainedMessages == 5)

        let expectations: [(String, [String])] = [
            ("site/#", ["site//t", "site/a", "site/a/t"]),
            ("site/a/#", ["site/a", "site/a/t"]),
            ("site/+/t", ["site//t", "site/a/t"]),
            ("#", ["/lead", "site//t", "site/a", "site/a/t"]),
            ("+/+", ["/lead", "site/a"]),
            ("$SYS/#", ["$SYS/load"]),
            ("site/b/t", []),
            ("site/a/t", ["site/a/t"]),
        ]
        for (index, (filter, expected)) in expectations.enumerated() {
            let client = try rawClient(broker, "r\(index)")
            #expect(try client.subscribe([Subscription(filter: filter, qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
            var received: [Publish] = []
            while let message = try? client.nextPublish(timeout: .milliseconds(300)) { received.append(message) }
            #expect(received.map(\.topic).sorted() == expected, "filter \(filter)")
            #expect(received.allSatisfy { $0.retain && $0.payload == Array(($0.topic == "site/a/t" ? "2 " : "1 ") + $0.topic) }, "filter \(filter)")
            // The retained copy keeps the QoS it was published with, capped by the subscription.
            #expect(received.allSatisfy { $0.qos == ($0.topic == "site/a/t" ? .atLeastOnce : .atMostOnce) }, "filter \(filter)")
        }
    }

    @Test("Restart on the same storage: set, replaced and cleared retained topics come back as they were, also after a compaction")
    func restart() async throws {
        let folder = TemporaryFolder()
        let first = try startBroker {
            $0.storageDirectory = folder.path
            $0.syncInterval = .zero  // compaction is considered at each sync
        }
        let publisher = try rawClient(first, "pub")
        // 2,200 replacements of 4 KiB on 10 topics pass the 8 MiB log size that starts a
        // compaction, which rewrites the log from the store.
        let payload = [UInt8](repeating: 0x61, count: 4096)
        var bytes: [UInt8] = []
        for step in 0..<2_200 {
            bytes += try MQTTPacket.publish(Publish(topic: "churn/\(step % 10)", payload: payload + Array("\(step)"), retain: true)).encoded()
        }
        for topic in ["keep/a", "keep/b", "keep/b/c", "$SYS/kept", "gone"] {
            bytes += try MQTTPacket.publish(Publish(topic: topic, payload: Array("v1"), retain: true)).encoded()
        }
        bytes += try MQTTPacket.publish(Publish(topic: "keep/b", payload: Array("v2"), qos: .atLeastOnce, retain: true, packetIdentifier: 7)).encoded()
        bytes += try MQTTPacket.publish(Publish(topic: "gone", payload: [], retain: true)).encoded()
        try publisher.send(bytes: bytes)
        #expect(try publisher.next(timeout: .seconds(60)) == .publishAcknowledgement(packetIdentifier: 7))
        publisher.close()
        await first.stop()
        var info = stat()
        #expect(stat(folder.path + "/" + WriteAheadLog.fileName, &info) == 0)
        #expect(info.st_size < bytes.count, "no compaction: the log holds every record sent")

        let second = try startBroker { $0.storageDirectory = folder.path }
        defer { second.stop() }
        #expect(await eventually { second.statistics.retainedMessages == 14 })
        let reader = try rawClient(second, "reader")
        _ = try reader.subscribe([Subscription(filter: "#", qos: .atLeastOnce), Subscription(filter: "$SYS/+", qos: .atMostOnce)],
                                 identifier: 2)
        var received: [String: (String, QoS)] = [:]
        while let message = try? reader.nextPublish(timeout: .milliseconds(500)) {
            if let identifier = message.packetIdentifier { try reader.send(.publishAcknowledgement(packetIdentifier: identifier)) }
            let text = String(decoding: message.payload, as: UTF8.self)
            received[message.topic] = (message.topic.hasPrefix("churn/") ? String(text.drop { $0 == "a" }) : text, message.qos)
        }
        var expected: [String: (String, QoS)] = ["keep/a": ("v1", .atMostOnce), "keep/b": ("v2", .atLeastOnce),
                                                 "keep/b/c": ("v1", .atMostOnce), "$SYS/kept": ("v1", .atMostOnce)]
        for topic in 0..<10 { expected["churn/\(topic)"] = ("\(2_190 + topic)", .atMostOnce) }
        #expect(received.keys.sorted() == expected.keys.sorted())
        for (topic, value) in expected {
            #expect(received[topic]?.0 == value.0 && received[topic]?.1 == value.1, "\(topic)")
        }
    }

    @Test("A SUBSCRIBE matching more retained bytes than a client may leave unread: closed as a slow consumer, and the replay stops there")
    func hugeReplayStopsAtTheSlowConsumerCap() async throws {
        let broker = try startBroker {
            $0.maximumMessageSize = 1024
            $0.maximumPendingBytes = 64 * 1024
        }
        defer { broker.stop() }
        // 20 MB of matches; the kernel's socket buffers take at most about 4 MB of them.
        try await Self.publishRetained(broker, topics: (0..<20_000).map { "big/\($0)" }) { _ in [UInt8](repeating: 0x42, count: 1000) }
        let reader = try rawClient(broker, "never-reads")
        reader.shrinkReceiveBuffer(to: 4096)
        let delivered = broker.statistics.messagesDelivered
        try reader.send(.subscribe(Subscribe(packetIdentifier: 1, subscriptions: [Subscription(filter: "big/#", qos: .atMostOnce)])))
        #expect(await eventually { broker.statistics.slowConsumersDisconnected == 1 })
        #expect(reader.waitUntilClosed(timeout: .seconds(30)))
        let observer = try rawClient(broker, "observer")
        try observer.send(.pingRequest)
        #expect(try observer.next() == .pingResponse)
        // What fits in 64 KiB and the socket's buffers, not all 20,000 matches.
        let replayed = broker.statistics.messagesDelivered - delivered
        #expect(replayed > 0 && replayed < 10_000, "\(replayed) messages encoded for a client being closed")
    }
}
