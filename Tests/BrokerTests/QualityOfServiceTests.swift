import Broker
import MQTT
import TestSupport
import Testing

@Suite("Broker: QoS 1 and 2 flows over sockets, inflight window, retransmission after reconnect")
struct QualityOfServiceTests {
    @Test("QoS 1 in and out: PUBACK to the publisher with its id; the subscriber gets it at min(pub, sub) QoS and its PUBACK ends the flow")
    func atLeastOnce() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        #expect(try subscriber.subscribe([Subscription(filter: "q/1", qos: .exactlyOnce), Subscription(filter: "q/0", qos: .atMostOnce)])
                == [.granted(.exactlyOnce), .granted(.atMostOnce)])
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "q/1", payload: [1, 2], qos: .atLeastOnce, packetIdentifier: 77)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 77))
        let delivered = try subscriber.nextPublish()
        #expect(delivered.topic == "q/1" && delivered.payload == [1, 2] && delivered.qos == .atLeastOnce && !delivered.duplicate && !delivered.retain)
        let identifier = try #require(delivered.packetIdentifier)
        try subscriber.send(.publishAcknowledgement(packetIdentifier: identifier))
        // A QoS 1 message to a QoS 0 subscription arrives at QoS 0, without an identifier.
        try publisher.send(.publish(Publish(topic: "q/0", payload: [3], qos: .atLeastOnce, packetIdentifier: 78)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 78))
        let downgraded = try subscriber.nextPublish()
        #expect(downgraded.qos == .atMostOnce && downgraded.packetIdentifier == nil && downgraded.payload == [3])
    }

    @Test("QoS 2 in: PUBREC, then PUBCOMP for PUBREL; a resent PUBLISH before PUBREL is not delivered twice")
    func exactlyOnceInbound() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        _ = try subscriber.subscribe([Subscription(filter: "q/2", qos: .atMostOnce)])
        let publisher = try rawClient(broker, "pub")
        let message = Publish(topic: "q/2", payload: [9], qos: .exactlyOnce, packetIdentifier: 5)
        try publisher.send(.publish(message))
        #expect(try publisher.next() == .publishReceived(packetIdentifier: 5))
        var again = message
        again.duplicate = true
        try publisher.send(.publish(again))
        #expect(try publisher.next() == .publishReceived(packetIdentifier: 5))
        try publisher.send(.publishRelease(packetIdentifier: 5))
        #expect(try publisher.next() == .publishComplete(packetIdentifier: 5))
        #expect(try subscriber.nextPublish().payload == [9])
        #expect(subscriber.staysQuiet(for: .milliseconds(300)))
        // After PUBREL the identifier is free: the same id carries a new message.
        try publisher.send(.publish(Publish(topic: "q/2", payload: [10], qos: .exactlyOnce, packetIdentifier: 5)))
        #expect(try publisher.next() == .publishReceived(packetIdentifier: 5))
        #expect(try subscriber.nextPublish().payload == [10])
    }

    @Test("QoS 2 out: PUBLISH, PUBREC from the client, PUBREL from the broker, PUBCOMP ends it")
    func exactlyOnceOutbound() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        _ = try subscriber.subscribe([Subscription(filter: "q/#", qos: .exactlyOnce)])
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "q/x", payload: [1], qos: .exactlyOnce, packetIdentifier: 1)))
        let delivered = try subscriber.nextPublish()
        #expect(delivered.qos == .exactlyOnce)
        let identifier = try #require(delivered.packetIdentifier)
        try subscriber.send(.publishReceived(packetIdentifier: identifier))
        #expect(try subscriber.next() == .publishRelease(packetIdentifier: identifier))
        try subscriber.send(.publishComplete(packetIdentifier: identifier))
        #expect(subscriber.staysQuiet(for: .milliseconds(200)))
    }

    @Test("Inflight window: with a window of 2, a client that does not acknowledge gets 2; each PUBACK lets the next one go")
    func inflightWindow() throws {
        let broker = try startBroker { $0.maximumInflightMessages = 2 }
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        _ = try subscriber.subscribe([Subscription(filter: "w", qos: .atLeastOnce)])
        let publisher = try rawClient(broker, "pub")
        for index in 1...5 {
            try publisher.send(.publish(Publish(topic: "w", payload: [UInt8(index)], qos: .atLeastOnce, packetIdentifier: UInt16(index))))
            #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: UInt16(index)))
        }
        let first = try subscriber.nextPublish()
        let second = try subscriber.nextPublish()
        #expect([first.payload, second.payload] == [[1], [2]])
        #expect(subscriber.staysQuiet(for: .milliseconds(300)))
        try subscriber.send(.publishAcknowledgement(packetIdentifier: try #require(first.packetIdentifier)))
        #expect(try subscriber.nextPublish().payload == [3])
        #expect(subscriber.staysQuiet(for: .milliseconds(300)))
    }

    @Test("Retransmission: a persistent client that reconnects gets its unacknowledged PUBLISH again with DUP and the same id, and PUBREL for a QoS 2 message it had PUBREC'd")
    func retransmissionAfterReconnect() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "keeper", clean: false)
        _ = try subscriber.subscribe([Subscription(filter: "r/#", qos: .exactlyOnce)])
        let publisher = try rawClient(broker, "pub")
        try publisher.send(.publish(Publish(topic: "r/one", payload: [1], qos: .atLeastOnce, packetIdentifier: 1)))
        try publisher.send(.publish(Publish(topic: "r/two", payload: [2], qos: .exactlyOnce, packetIdentifier: 2)))
        let first = try subscriber.nextPublish()
        let second = try subscriber.nextPublish()
        #expect(first.topic == "r/one" && second.topic == "r/two" && !first.duplicate && !second.duplicate)
        // The QoS 2 message gets as far as PUBREL; then the connection drops.
        try subscriber.send(.publishReceived(packetIdentifier: try #require(second.packetIdentifier)))
        #expect(try subscriber.next() == .publishRelease(packetIdentifier: try #require(second.packetIdentifier)))
        subscriber.close()

        let again = try rawClient(broker, "keeper", clean: false, sessionPresent: true)
        let resent = try again.nextPublish()
        #expect(resent.topic == "r/one" && resent.duplicate && resent.packetIdentifier == first.packetIdentifier && resent.qos == .atLeastOnce)
        #expect(try again.next() == .publishRelease(packetIdentifier: try #require(second.packetIdentifier)))
        try again.send(.publishAcknowledgement(packetIdentifier: try #require(first.packetIdentifier)))
        try again.send(.publishComplete(packetIdentifier: try #require(second.packetIdentifier)))
        again.close()
        // Both flows are complete: a third connection gets nothing again.
        let third = try rawClient(broker, "keeper", clean: false, sessionPresent: true)
        #expect(third.staysQuiet(for: .milliseconds(300)))
    }
}
