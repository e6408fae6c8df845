import Broker
import MQTT
import TestSupport
import Testing

@Suite("Broker: retained messages and persistent sessions survive a restart on the same storage folder")
struct StorageTests {
    @Test("Restart: retained messages (set and cleared), subscriptions, queued and unacknowledged QoS 1/2 messages, PUBREL state and inbound QoS 2 ids come back")
    func restart() throws {
        let folder = TemporaryFolder()
        let first = try startBroker { $0.storageDirectory = folder.path }
        let publisher = try rawClient(first, "pub", clean: false)
        let subscriber = try rawClient(first, "sub", clean: false)
        _ = try subscriber.subscribe([Subscription(filter: "s/#", qos: .exactlyOnce)])
        try publisher.send(.publish(Publish(topic: "keep/a", payload: Array("A"), qos: .atLeastOnce, retain: true, packetIdentifier: 1)))
        try publisher.send(.publish(Publish(topic: "keep/b", payload: Array("B"), retain: true)))
        try publisher.send(.publish(Publish(topic: "keep/b", payload: [], retain: true)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 1))
        // Two messages reach the subscriber: the QoS 1 one stays unacknowledged, the QoS 2 one
        // gets as far as PUBREL.
        try publisher.send(.publish(Publish(topic: "s/1", payload: [1], qos: .atLeastOnce, packetIdentifier: 2)))
        try publisher.send(.publish(Publish(topic: "s/2", payload: [2], qos: .exactlyOnce, packetIdentifier: 3)))
        let one = try subscriber.nextPublish()
        let two = try subscriber.nextPublish()
        try subscriber.send(.publishReceived(packetIdentifier: two.packetIdentifier ?? 0))
        #expect(try subscriber.next() == .publishRelease(packetIdentifier: two.packetIdentifier ?? 0))
        subscriber.close()
        // Queued while the subscriber is away.
        try publisher.send(.publish(Publish(topic: "s/3", payload: [3], qos: .atLeastOnce, packetIdentifier: 4)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 2))
        #expect(try publisher.next() == .publishReceived(packetIdentifier: 3))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 4))
        // The publisher's QoS 2 message 3 waits for PUBREL across the restart.
        publisher.close()
        first.stop()

        let second = try startBroker { $0.storageDirectory = folder.path }
        defer { second.stop() }
        let reader = try rawClient(second, "reader")
        _ = try reader.subscribe([Subscription(filter: "keep/#", qos: .atLeastOnce)])
        let retained = try reader.nextPublish()
        #expect(retained.topic == "keep/a" && retained.payload == Array("A") && retained.retain)
        #expect(reader.staysQuiet(for: .milliseconds(300)))

        let back = try rawClient(second, "sub", clean: false, sessionPresent: true)
        let resent = try back.nextPublish()
        #expect(resent.topic == "s/1" && resent.duplicate && resent.packetIdentifier == one.packetIdentifier)
        #expect(try back.next() == .publishRelease(packetIdentifier: two.packetIdentifier ?? 0))
        let queued = try back.nextPublish()
        #expect(queued.topic == "s/3" && queued.qos == .atLeastOnce)

        // The publisher's resent QoS 2 PUBLISH is recognised: PUBREC, and no second delivery.
        let publisherBack = try rawClient(second, "pub", clean: false, sessionPresent: true)
        try publisherBack.send(.publish(Publish(topic: "s/2", payload: [2], qos: .exactlyOnce, duplicate: true, packetIdentifier: 3)))
        #expect(try publisherBack.next() == .publishReceived(packetIdentifier: 3))
        try publisherBack.send(.publishRelease(packetIdentifier: 3))
        #expect(try publisherBack.next() == .publishComplete(packetIdentifier: 3))
        #expect(back.staysQuiet(for: .milliseconds(300)))
    }
}
