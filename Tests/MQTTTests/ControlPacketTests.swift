import MQTT
import Testing

@Suite("Control packets appended in place to a caller's buffer, against the specification's layouts")
struct ControlPacketTests {
    /// Bytes already in the buffer: the appenders must leave them as they are.
    private let earlier: [UInt8] = [0x30, 0x03, 0x00, 0x01, 0x61]

    @Test("CONNACK: 0x20, remaining length 2, session present (3.2.2.2), return code (3.2.2.3)")
    func connectAcknowledgement() throws {
        var output = earlier
        output.appendConnectAcknowledgement(sessionPresent: true, returnCode: .accepted)
        output.appendConnectAcknowledgement(sessionPresent: false, returnCode: .badUsernameOrPassword)
        #expect(output == earlier + [0x20, 0x02, 0x01, 0x00] + [0x20, 0x02, 0x00, 0x04])
        #expect(try decodeAll(Array(output.dropFirst(earlier.count))) == [
            .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: true, returnCode: .accepted)),
            .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .badUsernameOrPassword)),
        ])
    }

    @Test("PUBACK 3.4, PUBREC 3.5, PUBREL 3.6 (flags 0010), PUBCOMP 3.7, UNSUBACK 3.11: type, 2, identifier MSB LSB",
          arguments: [
              (IdentifierAcknowledgement.publishAcknowledgement, UInt8(0x40)), (.publishReceived, 0x50),
              (.publishRelease, 0x62), (.publishComplete, 0x70), (.unsubscribeAcknowledgement, 0xB0),
          ])
    func acknowledgement(kind: IdentifierAcknowledgement, firstByte: UInt8) throws {
        var output = earlier
        output.appendAcknowledgement(kind, packetIdentifier: 0xA1B2)
        #expect(output == earlier + [firstByte, 0x02, 0xA1, 0xB2])
        // The same bytes as the packet value's encoding, and they decode back to that packet.
        let packet = try #require(decodeAll(Array(output.dropFirst(earlier.count))).first)
        #expect(try packet.encoded() == [firstByte, 0x02, 0xA1, 0xB2])
        #expect(packet.packetType == firstByte >> 4)
    }

    @Test("SUBACK (3.9): the specification's payload example 0x00 0x01 0x02 0x80 (3.9.3)")
    func subscribeAcknowledgement() throws {
        var output = earlier
        output.appendSubscribeAcknowledgement(packetIdentifier: 10,
                                              returnCodes: [.granted(.atMostOnce), .granted(.atLeastOnce), .granted(.exactlyOnce), .failure])
        #expect(output == earlier + [0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80])
    }

    @Test("SUBACK for 200 filters: a two-byte remaining length (202 = 0xCA 0x01, 2.2.3)")
    func longSubscribeAcknowledgement() throws {
        let codes = [SubscribeReturnCode](repeating: .granted(.atLeastOnce), count: 199) + [.failure]
        var output: [UInt8] = []
        output.appendSubscribeAcknowledgement(packetIdentifier: 0x0102, returnCodes: codes)
        #expect(Array(output.prefix(5)) == [0x90, 0xCA, 0x01, 0x01, 0x02])
        #expect(output.count == 3 + 202)
        #expect(try decodeAll(output) == [.subscribeAcknowledgement(SubscribeAcknowledgement(packetIdentifier: 0x0102, returnCodes: codes))])
    }

    @Test("PINGRESP (3.13): 0xD0 0x00")
    func pingResponse() throws {
        var output = earlier
        output.appendPingResponse()
        #expect(output == earlier + [0xD0, 0x00])
    }

    @Test("Written into the caller's buffer: with room reserved, a PUBACK does not move it")
    func writesInPlace() {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        output.append(contentsOf: earlier)
        let before = output.withUnsafeBufferPointer { $0.baseAddress }
        for identifier in UInt16(1)...10 { output.appendAcknowledgement(.publishAcknowledgement, packetIdentifier: identifier) }
        #expect(output.withUnsafeBufferPointer { $0.baseAddress } == before)
        #expect(output.count == earlier.count + 40)
        #expect(Array(output.suffix(4)) == [0x40, 0x02, 0x00, 0x0A])
    }

    /// Every packet in `bytes`, which must hold whole packets only.
    private func decodeAll(_ bytes: [UInt8]) throws -> [MQTTPacket] {
        var framer = MQTTFramer()
        framer.append(bytes)
        var packets: [MQTTPacket] = []
        while let packet = try framer.next() { packets.append(packet) }
        #expect(framer.bufferedByteCount == 0)
        return packets
    }
}
