import Broker
import Glibc
import MQTT
import TestSupport
import Testing

/// Streams whose answers are owed before the connection closes, sent in one write.
private enum Streams {
    /// CONNECT, clean session, keep-alive 60, client id `id`.
    static func connect(_ id: String, will: Will? = nil) -> [UInt8] {
        (try? MQTTPacket.connect(Connect(clientIdentifier: id, cleanSession: true, keepAlive: 60, will: will)).encoded()) ?? []
    }

    /// PUBLISH QoS 1, packet id 5, to t/x.
    static let publishQoS1: [UInt8] = [0x32, 0x09, 0x00, 0x03] + Array("t/x".utf8) + [0x00, 0x05] + Array("hi".utf8)
    static let disconnect: [UInt8] = [0xE0, 0x00]
    /// SUBSCRIBE id 7 to a/b at QoS 1.
    static let subscribe: [UInt8] = [0x82, 0x08, 0x00, 0x07, 0x00, 0x03] + Array("a/b".utf8) + [0x01]
    /// A SUBSCRIBE with fixed-header flags 0000 instead of 0010: malformed (2.2.2).
    static let malformed: [UInt8] = [0x80, 0x08, 0x00, 0x08, 0x00, 0x03] + Array("a/c".utf8) + [0x01]

    static let connectionAccepted: [UInt8] = [0x20, 0x02, 0x00, 0x00]
    static let publishAcknowledgement5: [UInt8] = [0x40, 0x02, 0x00, 0x05]
    static let subscribeAcknowledgement7: [UInt8] = [0x90, 0x03, 0x00, 0x07, 0x01]
}

@Suite("Broker: answers owed before a close are sent, then the connection closes")
struct ClosePathTests {
    @Test("CONNECT, PUBLISH QoS 1 and DISCONNECT in one write: CONNACK then PUBACK, then the end of the stream, as Mosquitto answers; the message is delivered and the will is not")
    func disconnectAfterPublish() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "sub")
        _ = try subscriber.subscribe([Subscription(filter: "#", qos: .atLeastOnce)])
        let will = Will(topic: "will/repro1", payload: Array("gone".utf8), qos: .atMostOnce)
        let stream = Streams.connect("repro1", will: will) + Streams.publishQoS1 + Streams.disconnect

        let answer = try exchange(port: broker.port, stream)
        #expect(answer == RawExchange(bytes: Streams.connectionAccepted + Streams.publishAcknowledgement5, closed: true))
        let delivered = try subscriber.nextPublish()
        #expect(delivered.topic == "t/x" && delivered.payload == Array("hi".utf8))
        try subscriber.send(.publishAcknowledgement(packetIdentifier: delivered.packetIdentifier ?? 0))
        // DISCONNECT discards the will (3.14.4): nothing more arrives.
        #expect(subscriber.staysQuiet(for: .milliseconds(300)))

        let mosquitto = try MosquittoBroker()
        defer { mosquitto.stop() }
        #expect(try exchange(port: mosquitto.port, stream) == answer)
    }

    @Test("CONNECT, SUBSCRIBE and a malformed packet in one write: CONNACK, SUBACK, then the close, as Mosquitto answers; the will is published")
    func malformedAfterSubscribe() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let watcher = try rawClient(broker, "watcher")
        _ = try watcher.subscribe([Subscription(filter: "will/#", qos: .atMostOnce)])
        let will = Will(topic: "will/bad", payload: Array("gone".utf8), qos: .atMostOnce)
        let stream = Streams.connect("bad", will: will) + Streams.subscribe + Streams.malformed + Streams.publishQoS1

        let answer = try exchange(port: broker.port, stream)
        #expect(answer == RawExchange(bytes: Streams.connectionAccepted + Streams.subscribeAcknowledgement7, closed: true))
        // A protocol error publishes the will (3.1.2.5).
        let published = try watcher.nextPublish()
        #expect(published.topic == "will/bad" && published.payload == Array("gone".utf8))

        let mosquitto = try MosquittoBroker()
        defer { mosquitto.stop() }
        #expect(try exchange(port: mosquitto.port, stream) == answer)
    }

    @Test("A second CONNECT after a PUBLISH QoS 1: CONNACK, PUBACK, then the close")
    func secondConnectAfterPublish() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let stream = Streams.connect("twice") + Streams.publishQoS1 + Streams.connect("twice")
        let answer = try exchange(port: broker.port, stream)
        #expect(answer == RawExchange(bytes: Streams.connectionAccepted + Streams.publishAcknowledgement5, closed: true))
    }

    @Test("The client sends CONNECT and PUBLISH QoS 1 and closes its side, the end of the stream read in the same turn: CONNACK and PUBACK still arrive")
    func clientClosesItsSide() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        // 1024 bytes, the framer's first read size: the read that takes them fills the space
        // offered, so the broker reads again at once and meets the end of the stream in that turn.
        let connect = Streams.connect("half")
        let payload = [UInt8](repeating: 0x61, count: 1024 - connect.count - 10)
        let publish = try MQTTPacket.publish(Publish(topic: "t/x", payload: payload, qos: .atLeastOnce, packetIdentifier: 5)).encoded()
        #expect(connect.count + publish.count == 1024)
        let answer = try exchange(port: broker.port, connect + publish, halfClose: true)
        #expect(answer == RawExchange(bytes: Streams.connectionAccepted + Streams.publishAcknowledgement5, closed: true))
    }

    @Test("A CONNACK refusal, written at the end of the turn now, still arrives before the close, with unread input behind it")
    func refusalWithInputBehind() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        // Protocol level 3: CONNACK 1 (3.1.2.2), then 20 KB the broker never reads.
        let level3: [UInt8] = [0x10, 0x0C, 0x00, 0x04] + Array("MQTT".utf8) + [0x03, 0x02, 0x00, 0x3C, 0x00, 0x00]
        let answer = try exchange(port: broker.port, level3 + [UInt8](repeating: 0xC0, count: 20_000))
        #expect(answer == RawExchange(bytes: [0x20, 0x02, 0x00, 0x01], closed: true))
    }
}
