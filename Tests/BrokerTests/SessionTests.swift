import Broker
import MQTT
import TestSupport
import Testing

@Suite("Broker: persistent and clean sessions, offline queueing with a bound, takeover, wills, keep-alive")
struct SessionTests {
    @Test("Persistent session: QoS 1/2 messages published while the client is away arrive in order on reconnect with session present; QoS 0 ones do not")
    func offlineQueue() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "away", clean: false)
        _ = try subscriber.subscribe([Subscription(filter: "o/#", qos: .exactlyOnce)])
        try subscriber.send(.disconnect)
        #expect(subscriber.waitUntilClosed())
        let publisher = try rawClient(broker, "pub")
        for index in 1...6 {
            let qos: QoS = index % 3 == 0 ? .atMostOnce : index % 3 == 1 ? .atLeastOnce : .exactlyOnce
            try publisher.send(.publish(Publish(topic: "o/\(index)", payload: [UInt8(index)], qos: qos,
                                                packetIdentifier: qos == .atMostOnce ? nil : UInt16(index))))
        }
        // Answers come in order: once PINGRESP is there, every PUBLISH has been routed.
        try publisher.send(.pingRequest)
        var answers: [MQTTPacket] = []
        while case let packet = try publisher.next(), packet != .pingResponse { answers.append(packet) }
        #expect(answers == [.publishAcknowledgement(packetIdentifier: 1), .publishReceived(packetIdentifier: 2),
                            .publishAcknowledgement(packetIdentifier: 4), .publishReceived(packetIdentifier: 5)])
        let back = try rawClient(broker, "away", clean: false, sessionPresent: true)
        var received: [String] = []
        for _ in 0..<4 {
            let message = try back.nextPublish()
            received.append(message.topic)
            if message.qos == .atLeastOnce { try back.send(.publishAcknowledgement(packetIdentifier: message.packetIdentifier ?? 0)) }
            if message.qos == .exactlyOnce { try back.send(.publishReceived(packetIdentifier: message.packetIdentifier ?? 0)) }
        }
        #expect(received == ["o/1", "o/2", "o/4", "o/5"])
    }

    @Test("The offline queue is bounded: beyond inflight + queued the newest messages are dropped and counted")
    func queueBound() async throws {
        let broker = try startBroker { $0.maximumInflightMessages = 2; $0.maximumQueuedMessages = 3 }
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "bounded", clean: false)
        _ = try subscriber.subscribe([Subscription(filter: "b", qos: .atLeastOnce)])
        subscriber.close()
        let publisher = try rawClient(broker, "pub")
        for index in 1...10 {
            try publisher.send(.publish(Publish(topic: "b", payload: [UInt8(index)], qos: .atLeastOnce, packetIdentifier: UInt16(index))))
            #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: UInt16(index)))
        }
        #expect(await eventually { broker.statistics.messagesDropped == 5 })
        let back = try rawClient(broker, "bounded", clean: false, sessionPresent: true)
        var payloads: [[UInt8]] = []
        for _ in 0..<5 {
            let message = try back.nextPublish()
            payloads.append(message.payload)
            try back.send(.publishAcknowledgement(packetIdentifier: message.packetIdentifier ?? 0))
        }
        #expect(payloads == [[1], [2], [3], [4], [5]])
        #expect(back.staysQuiet(for: .milliseconds(300)))
    }

    @Test("A clean session forgets: reconnecting clean gives session present 0 and no subscriptions")
    func cleanSessionForgets() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let first = try rawClient(broker, "c", clean: false)
        _ = try first.subscribe([Subscription(filter: "c/#", qos: .atLeastOnce)])
        first.close()
        let clean = try rawClient(broker, "c", clean: true, sessionPresent: false)
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "c/x", payload: [1], qos: .atLeastOnce, packetIdentifier: 1)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 1))
        #expect(clean.staysQuiet(for: .milliseconds(300)))
        // And after a clean session ends, a persistent connect finds nothing either.
        clean.close()
        _ = try rawClient(broker, "c", clean: false, sessionPresent: false)
    }

    @Test("Takeover: a second connection with the same client id closes the first (its will goes out) and inherits the session")
    func takeover() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let watcher = try rawClient(broker, "watcher")
        _ = try watcher.subscribe([Subscription(filter: "wills/#", qos: .atMostOnce), Subscription(filter: "t", qos: .atLeastOnce)])
        let first = try rawClient(broker, "same", clean: false, will: Will(topic: "wills/same", payload: Array("gone")))
        _ = try first.subscribe([Subscription(filter: "t", qos: .atLeastOnce)])
        let second = try rawClient(broker, "same", clean: false, sessionPresent: true)
        #expect(first.waitUntilClosed())
        #expect(try watcher.nextPublish().topic == "wills/same")
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "t", payload: [7], qos: .atLeastOnce, packetIdentifier: 1)))
        #expect(try second.nextPublish().payload == [7])
    }

    @Test("Will: published when the connection drops, not after DISCONNECT; its retain flag is kept")
    func wills() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let watcher = try rawClient(broker, "watcher")
        _ = try watcher.subscribe([Subscription(filter: "status/+", qos: .atLeastOnce)])
        let polite = try rawClient(broker, "polite", will: Will(topic: "status/polite", payload: Array("offline"), qos: .atLeastOnce))
        try polite.send(.disconnect)
        #expect(polite.waitUntilClosed())
        let abrupt = try rawClient(broker, "abrupt", will: Will(topic: "status/abrupt", payload: Array("offline"), qos: .atLeastOnce, retain: true))
        abrupt.close()
        let will = try watcher.nextPublish()
        #expect(will.topic == "status/abrupt" && will.payload == Array("offline") && will.qos == .atLeastOnce && !will.retain)
        try watcher.send(.publishAcknowledgement(packetIdentifier: will.packetIdentifier ?? 0))
        #expect(watcher.staysQuiet(for: .milliseconds(300)))
        // Retained: a later subscriber gets it with RETAIN set.
        let late = try rawClient(broker, "late")
        _ = try late.subscribe([Subscription(filter: "status/#", qos: .atMostOnce)])
        let replay = try late.nextPublish()
        #expect(replay.topic == "status/abrupt" && replay.retain)
    }

    @Test("Keep-alive: a client silent for 1.5 × its interval is disconnected and its will published; PINGREQ keeps it alive")
    func keepAlive() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let watcher = try rawClient(broker, "watcher")
        _ = try watcher.subscribe([Subscription(filter: "ka/#", qos: .atMostOnce)])
        let pinging = try rawClient(broker, "pinging", keepAlive: 1)
        let silent = try rawClient(broker, "silent", keepAlive: 1, will: Will(topic: "ka/silent", payload: [0]))
        // The pinging client sends PINGREQ every half second for 3 s: six intervals of silence for the other.
        for _ in 0..<6 {
            try pinging.send(.pingRequest)
            #expect(try pinging.next() == .pingResponse)
            _ = pinging.staysQuiet(for: .milliseconds(500))
        }
        #expect(silent.waitUntilClosed(timeout: .seconds(5)))
        #expect(try watcher.nextPublish().topic == "ka/silent")
        try pinging.send(.pingRequest)
        #expect(try pinging.next() == .pingResponse)
    }
}
