import Broker
import Glibc
import MQTT
import TestSupport
import Testing

@Suite("Broker: retained messages, wildcards, $ topics, overlapping subscriptions")
struct RoutingTests {
    @Test("Retained: set, replayed to new subscribers with RETAIN (exact and wildcard), live copies without it, replaced, cleared by an empty payload")
    func retained() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let live = try rawClient(broker, "live")
        _ = try live.subscribe([Subscription(filter: "plant/#", qos: .atMostOnce)])
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "plant/oven1/sp", payload: Array("650"), qos: .atLeastOnce, retain: true, packetIdentifier: 1)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 1))
        let liveCopy = try live.nextPublish()
        #expect(liveCopy.payload == Array("650") && !liveCopy.retain)

        let exact = try rawClient(broker, "exact")
        _ = try exact.subscribe([Subscription(filter: "plant/oven1/sp", qos: .atLeastOnce)])
        let replay = try exact.nextPublish()
        #expect(replay.topic == "plant/oven1/sp" && replay.payload == Array("650") && replay.retain && replay.qos == .atLeastOnce)

        try publisher.send(.publish(Publish(topic: "plant/oven1/sp", payload: Array("700"), retain: true)))
        try publisher.send(.publish(Publish(topic: "plant/oven2/sp", payload: Array("500"), retain: true)))
        let wildcard = try rawClient(broker, "wildcard")
        _ = try wildcard.subscribe([Subscription(filter: "plant/+/sp", qos: .atMostOnce)])
        let replays = [try wildcard.nextPublish(), try wildcard.nextPublish()].sorted { $0.topic < $1.topic }
        #expect(replays.map(\.topic) == ["plant/oven1/sp", "plant/oven2/sp"])
        #expect(replays.map(\.payload) == [Array("700"), Array("500")])
        #expect(replays.allSatisfy { $0.retain })

        // An empty retained message clears the topic (and is still delivered to live subscribers).
        try publisher.send(.publish(Publish(topic: "plant/oven1/sp", payload: [], qos: .atLeastOnce, retain: true, packetIdentifier: 2)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 2))
        let cleared = try rawClient(broker, "after-clear")
        _ = try cleared.subscribe([Subscription(filter: "plant/+/sp", qos: .atMostOnce)])
        #expect(try cleared.nextPublish().topic == "plant/oven2/sp")
        #expect(cleared.staysQuiet(for: .milliseconds(300)))
        #expect(broker.statistics.retainedMessages == 1)
    }

    @Test("Wildcards: + one level, # this level and below; filters starting with a wildcard miss $ topics; $ filters match them")
    func wildcards() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let filters = ["+/b", "a/#", "#", "a/+/c", "$devices/#", "+/+"]
        var subscribers: [String: RawMQTTClient] = [:]
        for (index, filter) in filters.enumerated() {
            let client = try rawClient(broker, "s\(index)")
            _ = try client.subscribe([Subscription(filter: filter, qos: .atMostOnce)])
            subscribers[filter] = client
        }
        let topics = ["a/b", "a", "a/x/c", "$devices/d1/events", "$SYS/x", "x/b"]
        let publisher = try rawClient(broker, "pub")
        for topic in topics {
            try publisher.send(.publish(Publish(topic: topic, payload: Array(topic))))
        }
        try publisher.send(.pingRequest)
        #expect(try publisher.next() == .pingResponse)
        for filter in filters {
            let expected = topics.filter { Topic.matches(filter: filter, topic: $0) }
            var received: [String] = []
            while let message = try? subscribers[filter]?.nextPublish(timeout: .milliseconds(300)) { received.append(message.topic) }
            #expect(received == expected, "filter \(filter)")
        }
        // Spot checks that the plain rule above says what MQTT says.
        #expect(!Topic.matches(filter: "#", topic: "$SYS/x") && Topic.matches(filter: "$devices/#", topic: "$devices/d1/events"))
        #expect(Topic.matches(filter: "a/#", topic: "a"))
    }

    @Test("Overlapping subscriptions: one copy per message, at the highest QoS granted among the matches")
    func overlapping() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        _ = try subscriber.subscribe([Subscription(filter: "o/#", qos: .atMostOnce), Subscription(filter: "o/+", qos: .atLeastOnce),
                                      Subscription(filter: "o/x", qos: .atMostOnce)])
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "o/x", payload: [1], qos: .exactlyOnce, packetIdentifier: 1)))
        let message = try subscriber.nextPublish()
        #expect(message.qos == .atLeastOnce)
        try subscriber.send(.publishAcknowledgement(packetIdentifier: message.packetIdentifier ?? 0))
        #expect(subscriber.staysQuiet(for: .milliseconds(300)))
    }

    @Test("Unsubscribe: UNSUBACK with the id, and no more messages for that filter")
    func unsubscribe() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        _ = try subscriber.subscribe([Subscription(filter: "u/+", qos: .atMostOnce), Subscription(filter: "v", qos: .atMostOnce)])
        try subscriber.send(.unsubscribe(Unsubscribe(packetIdentifier: 9, filters: ["u/+"])))
        #expect(try subscriber.next() == .unsubscribeAcknowledgement(packetIdentifier: 9))
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "u/1", payload: [1])))
        try publisher.send(.publish(Publish(topic: "v", payload: [2])))
        #expect(try subscriber.nextPublish().topic == "v")
    }

    @Test("PUBLISH packets sent in random chunks (topics repeating and changing, payloads up to 200 KB) reach QoS 0 and QoS 1 subscribers whole and in order")
    func chunkedStream() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let atMostOnce = try rawClient(broker, "q0")
        _ = try atMostOnce.subscribe([Subscription(filter: "r/#", qos: .atMostOnce)])
        let atLeastOnce = try rawClient(broker, "q1")
        _ = try atLeastOnce.subscribe([Subscription(filter: "r/#", qos: .atLeastOnce)])
        var generator = SplitMix64(seed: 11)
        let topics = ["r/a", "r/a", "r/b", "r/a", "r/" + String(repeating: "long/", count: 60) + "end", "r/b"]
        let sizes = [0, 1, 64, 64, 1000, 5000, 70_000, 200_000]
        var messages: [Publish] = []
        for index in 0..<120 {
            let size = sizes[Int(generator.next() % UInt64(sizes.count))]
            messages.append(Publish(topic: topics[index % topics.count], payload: (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ index) },
                                    qos: index % 3 == 0 ? .atLeastOnce : .atMostOnce,
                                    packetIdentifier: index % 3 == 0 ? UInt16(index + 1) : nil))
        }
        let bytes = try messages.flatMap { try MQTTPacket.publish($0).encoded() }
        let publisher = try rawClient(broker, "pub")
        var offset = 0
        while offset < bytes.count {
            let size = Int(generator.next() % 3000) + 1
            try publisher.send(bytes: Array(bytes[offset..<min(bytes.count, offset + size)]))
            offset += size
            // Now and then a pause, so the broker reads a packet's parts separately.
            if generator.next() % 8 == 0 { usleep(200) }
        }
        var received: [Publish] = []
        for (index, expected) in messages.enumerated() {
            let plain = try atMostOnce.nextPublish()
            #expect(plain.topic == expected.topic && plain.payload == expected.payload && plain.qos == .atMostOnce, "message \(index)")
            let acknowledged = try atLeastOnce.nextPublish()
            received.append(acknowledged)
            if let identifier = acknowledged.packetIdentifier {
                try atLeastOnce.send(.publishAcknowledgement(packetIdentifier: identifier))
            }
        }
        // Order holds per QoS: QoS 0 copies go out at once, QoS 1 ones wait for room in the inflight window.
        for qos in [QoS.atMostOnce, .atLeastOnce] {
            let sent = messages.filter { $0.qos == qos }
            let got = received.filter { $0.qos == qos }
            #expect(got.map(\.topic) == sent.map(\.topic) && got.map(\.payload) == sent.map(\.payload), "QoS \(qos.rawValue)")
        }
        for expected in messages where expected.qos == .atLeastOnce {
            #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: expected.packetIdentifier ?? 0))
        }
    }
}
