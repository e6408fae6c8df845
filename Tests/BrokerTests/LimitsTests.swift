import Broker
import Glibc
import MQTT
import TestSupport
import Testing

@Suite("Broker: size limit, slow consumers, and packets that break the rules")
struct LimitsTests {
    @Test("A PUBLISH over the message size limit disconnects its sender; the others go on")
    func oversizedMessage() async throws {
        let broker = try startBroker { $0.maximumMessageSize = 1024 }
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        _ = try subscriber.subscribe([Subscription(filter: "big/#", qos: .atMostOnce)])
        let sender = try rawClient(broker, "sender")
        try sender.send(.publish(Publish(topic: "big/ok", payload: [UInt8](repeating: 1, count: 1024))))
        #expect(try subscriber.nextPublish().payload.count == 1024)
        try sender.send(.publish(Publish(topic: "big/no", payload: [UInt8](repeating: 1, count: 1025))))
        #expect(sender.waitUntilClosed())
        // A packet whose length alone is over the limit is refused before its body arrives.
        let early = try rawClient(broker, "early")
        try early.send(bytes: [0x30, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(early.waitUntilClosed())
        let other = try rawClient(broker, "other")
        try other.send(.publish(Publish(topic: "big/after", payload: [2])))
        #expect(try subscriber.nextPublish().topic == "big/after")
        #expect(await eventually { broker.statistics.protocolErrors == 2 })
    }

    @Test("A subscriber that does not read is disconnected once its unread bytes pass the cap; a reading subscriber gets every message")
    func slowConsumer() async throws {
        let broker = try startBroker { $0.maximumPendingBytes = 256 * 1024 }
        defer { broker.stop() }
        let stuck = try rawClient(broker, "stuck")
        stuck.shrinkReceiveBuffer(to: 4096)
        _ = try stuck.subscribe([Subscription(filter: "flood", qos: .atMostOnce)])
        let reader = try await connect(broker.port, "reader")
        let inbox = Inbox(reader)
        _ = try await reader.subscribe([Subscription(filter: "flood", qos: .atMostOnce)])
        let publisher = try await connect(broker.port, "pub")
        let count = 10_000
        let payload = [UInt8](repeating: 0x55, count: 1024)
        for index in 0..<count {
            // QoS 1 now and then paces the publisher by the broker's answers.
            try await publisher.publish(topic: "flood", payload: payload, qos: index % 100 == 99 ? .atLeastOnce : .atMostOnce)
        }
        #expect(await inbox.wait(for: count).count == count)
        #expect(await eventually { broker.statistics.slowConsumersDisconnected == 1 && broker.statistics.connections == 2 })
        // The connection is reset, not drained: the broker drops what it held for the client.
        #expect(stuck.waitUntilClosed(timeout: .seconds(10)))
        await reader.disconnect()
        await publisher.disconnect()
    }

    @Test("CONNECT rules: protocol level 3 → CONNACK 1; empty id with clean session 0 → CONNACK 2; empty id with clean session 1 → accepted")
    func connectRules() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        var level3: [UInt8] = [0x10, 0x0C, 0x00, 0x04] + Array("MQTT") + [0x03, 0x02, 0x00, 0x3C, 0x00, 0x00]
        let old = try RawMQTTClient(port: broker.port)
        try old.send(bytes: level3)
        #expect(try old.next() == .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .unacceptableProtocolVersion)))
        #expect(old.waitUntilClosed())
        level3[8] = 0x04
        level3[9] = 0x00  // clean session 0 with an empty client id
        let anonymous = try RawMQTTClient(port: broker.port)
        try anonymous.send(bytes: level3)
        #expect(try anonymous.next() == .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .identifierRejected)))
        #expect(anonymous.waitUntilClosed())
        _ = try rawClient(broker, "", clean: true)
    }

    @Test("Rule breaking: a first packet other than CONNECT, a second CONNECT, bad fixed-header flags, a server-only packet: each closes the connection")
    func ruleBreaking() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let noConnect = try RawMQTTClient(port: broker.port)
        try noConnect.send(.pingRequest)
        #expect(noConnect.waitUntilClosed())
        let twice = try rawClient(broker, "twice")
        try twice.send(.connect(Connect(clientIdentifier: "twice")))
        #expect(twice.waitUntilClosed())
        let badFlags = try rawClient(broker, "flags")
        try badFlags.send(bytes: [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00].enumerated().map { $0.offset == 0 ? 0x83 : $0.element })
        #expect(badFlags.waitUntilClosed())
        let serverPacket = try rawClient(broker, "server")
        try serverPacket.send(bytes: [0x20, 0x02, 0x00, 0x00])
        #expect(serverPacket.waitUntilClosed())
        #expect(await eventually { broker.statistics.protocolErrors == 4 && broker.statistics.connections == 0 })
    }

    @Test("A connection that never sends CONNECT is closed after the connect timeout")
    func connectTimeout() throws {
        let broker = try startBroker { $0.connectTimeout = .milliseconds(300) }
        defer { broker.stop() }
        let idle = try RawMQTTClient(port: broker.port)
        #expect(idle.waitUntilClosed(timeout: .seconds(10)))
    }
}
