import MQTT
import Testing

/// Decodes exactly one packet from `bytes` through a framer.
func decodeOne(_ bytes: [UInt8], maximumPacketSize: Int = 1 << 20) throws(MQTTError) -> MQTTPacket? {
    var framer = MQTTFramer(maximumPacketSize: maximumPacketSize)
    framer.append(bytes)
    return try framer.next()
}

@Suite("MQTT 3.1.1 packets against the specification's byte layouts")
struct CodecTests {
    @Test("Remaining length: the specification's table of 1 to 4 byte encodings (2.2.3)", arguments: [
        (0, [UInt8(0x00)]), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]), (2_097_151, [0xFF, 0xFF, 0x7F]),
        (2_097_152, [0x80, 0x80, 0x80, 0x01]), (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
    ])
    func remainingLength(length: Int, encoding: [UInt8]) throws {
        // A PUBLISH whose payload makes the body exactly `length` bytes (topic "a" takes 3).
        guard length >= 3, length <= 2_097_152 else {
            // Check the encoding through the framer's header parsing for the extremes.
            var framer = MQTTFramer(maximumPacketSize: 1)
            framer.append([0x30] + encoding)
            #expect(throws: MQTTError.packetTooLarge(size: 1 + encoding.count + length, limit: 1)) { _ = try framer.next() }
            return
        }
        let packet = MQTTPacket.publish(Publish(topic: "a", payload: [UInt8](repeating: 7, count: length - 3)))
        let bytes = try packet.encoded()
        #expect(Array(bytes[1...encoding.count]) == encoding)
        #expect(bytes.count == 1 + encoding.count + length)
        #expect(try decodeOne(bytes, maximumPacketSize: 3 << 20) == packet)
    }

    @Test("CONNECT: the variable header of the specification's example (3.1.2.10)")
    func connect() throws {
        // Protocol name MQTT, level 4, flags: user name, password, will QoS 1, will, clean session (0xCE), keep alive 10.
        let connect = Connect(clientIdentifier: "modbridge-1", cleanSession: true, keepAlive: 10,
                              will: Will(topic: "a/b", payload: Array("gone".utf8), qos: .atLeastOnce),
                              username: "dev", password: Array("secret".utf8))
        let bytes = try MQTTPacket.connect(connect).encoded()
        #expect(bytes[0] == 0x10)
        #expect(Array(bytes[2..<12]) == [0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0xCE, 0x00, 0x0A])
        #expect(Array(bytes[12..<25]) == [0x00, 0x0B] + Array("modbridge-1".utf8))
        #expect(try decodeOne(bytes) == .connect(connect))
    }

    @Test("CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT bytes")
    func fixedPackets() throws {
        let cases: [(MQTTPacket, [UInt8])] = [
            (.connectAcknowledgement(ConnectAcknowledgement(sessionPresent: true, returnCode: .accepted)), [0x20, 0x02, 0x01, 0x00]),
            (.connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .notAuthorized)), [0x20, 0x02, 0x00, 0x05]),
            (.publishAcknowledgement(packetIdentifier: 10), [0x40, 0x02, 0x00, 0x0A]),
            (.publishReceived(packetIdentifier: 0x1234), [0x50, 0x02, 0x12, 0x34]),
            (.publishRelease(packetIdentifier: 10), [0x62, 0x02, 0x00, 0x0A]),
            (.publishComplete(packetIdentifier: 10), [0x70, 0x02, 0x00, 0x0A]),
            (.unsubscribeAcknowledgement(packetIdentifier: 10), [0xB0, 0x02, 0x00, 0x0A]),
            (.pingRequest, [0xC0, 0x00]),
            (.pingResponse, [0xD0, 0x00]),
            (.disconnect, [0xE0, 0x00]),
        ]
        for (packet, bytes) in cases {
            #expect(try packet.encoded() == bytes, "\(packet)")
            #expect(try decodeOne(bytes) == packet, "\(bytes)")
        }
    }

    @Test("PUBLISH: topic a/b, packet identifier 10 (3.3.2.3 example), flags DUP QoS RETAIN")
    func publish() throws {
        let publish = Publish(topic: "a/b", payload: [1, 2, 3], qos: .exactlyOnce, retain: true, duplicate: true, packetIdentifier: 10)
        let bytes = try MQTTPacket.publish(publish).encoded()
        #expect(bytes == [0x3D, 0x0A, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x0A, 1, 2, 3])
        #expect(try decodeOne(bytes) == .publish(publish))
        let qos0 = Publish(topic: "a/b", payload: [])
        #expect(try MQTTPacket.publish(qos0).encoded() == [0x30, 0x05, 0x00, 0x03, 0x61, 0x2F, 0x62])
    }

    @Test("SUBSCRIBE, SUBACK, UNSUBSCRIBE: the specification's payload examples (3.8.3, 3.9.3, 3.10.3)")
    func subscriptions() throws {
        let subscribe = MQTTPacket.subscribe(Subscribe(packetIdentifier: 10, subscriptions: [
            Subscription(filter: "a/b", qos: .atLeastOnce), Subscription(filter: "c/d", qos: .exactlyOnce)]))
        let subscribeBytes: [UInt8] = [0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x01, 0x00, 0x03, 0x63, 0x2F, 0x64, 0x02]
        #expect(try subscribe.encoded() == subscribeBytes)
        #expect(try decodeOne(subscribeBytes) == subscribe)

        let subAck = MQTTPacket.subscribeAcknowledgement(SubscribeAcknowledgement(packetIdentifier: 10, returnCodes: [.granted(.atMostOnce), .granted(.exactlyOnce), .failure]))
        let subAckBytes: [UInt8] = [0x90, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x80]
        #expect(try subAck.encoded() == subAckBytes)
        #expect(try decodeOne(subAckBytes) == subAck)

        let unsubscribe = MQTTPacket.unsubscribe(Unsubscribe(packetIdentifier: 10, filters: ["a/b", "c/d"]))
        let unsubscribeBytes: [UInt8] = [0xA2, 0x0C, 0x00, 0x0A, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x03, 0x63, 0x2F, 0x64]
        #expect(try unsubscribe.encoded() == unsubscribeBytes)
        #expect(try decodeOne(unsubscribeBytes) == unsubscribe)
    }

    @Test("UTF-8 string: the specification's example \"A𪛔\" (1.5.3)")
    func utf8Example() throws {
        let bytes = try MQTTPacket.publish(Publish(topic: "A\u{2A6D4}", payload: [])).encoded()
        #expect(Array(bytes[2...]) == [0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94])
    }
}
