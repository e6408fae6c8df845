import MQTT
import Testing

@Suite("MQTT 3.1.1 rule violations: each one a distinct error")
struct RuleTests {
    static let connectHeader: [UInt8] = [0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04]

    /// A CONNECT packet with the given variable header (after the level) and payload.
    static func connect(_ rest: [UInt8]) -> [UInt8] {
        let body = connectHeader + rest
        return [0x10, UInt8(body.count)] + body
    }

    static let violations: [(String, [UInt8], MQTTError)] = [
        ("reserved type 0", [0x00, 0x00], .reservedPacketType(0)),
        ("reserved type 15", [0xF0, 0x00], .reservedPacketType(15)),
        ("CONNECT flags", [0x11, 0x00], .invalidFlags(packet: "CONNECT", flags: 1)),
        ("PUBREL flags", [0x60, 0x02, 0x00, 0x01], .invalidFlags(packet: "PUBREL", flags: 0)),
        ("SUBSCRIBE flags", [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00], .invalidFlags(packet: "SUBSCRIBE", flags: 0)),
        ("UNSUBSCRIBE flags", [0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61], .invalidFlags(packet: "UNSUBSCRIBE", flags: 0)),
        ("PINGREQ flags", [0xC1, 0x00], .invalidFlags(packet: "PINGREQ", flags: 1)),
        ("remaining length of 5 bytes", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], .remainingLengthTooLong),
        ("protocol name", [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x49, 0x73, 0x04, 0x02, 0x00, 0x0A, 0x00, 0x00], .invalidProtocolName("MQIs")),
        ("protocol level 3", [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x03, 0x02, 0x00, 0x0A, 0x00, 0x00], .unacceptableProtocolLevel(3)),
        ("reserved connect flag", connect([0x03, 0x00, 0x0A, 0x00, 0x00]), .reservedConnectFlagSet),
        ("will QoS without will", connect([0x0A, 0x00, 0x0A, 0x00, 0x00]), .willFlagsWithoutWill),
        ("will retain without will", connect([0x22, 0x00, 0x0A, 0x00, 0x00]), .willFlagsWithoutWill),
        ("will QoS 3", connect([0x1E, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00, 0x00]), .invalidQoS(3)),
        ("password without user name", connect([0x42, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x00]), .passwordWithoutUsername),
        ("empty client id, persistent session", connect([0x00, 0x00, 0x0A, 0x00, 0x00]), .emptyClientIdentifierWithPersistentSession),
        ("CONNECT trailing bytes", connect([0x02, 0x00, 0x0A, 0x00, 0x00, 0x99]), .trailingBytes(packet: "CONNECT", count: 1)),
        ("client id with U+0000", connect([0x02, 0x00, 0x0A, 0x00, 0x02, 0x61, 0x00]), .nullCharacter(field: "client identifier")),
        ("client id not UTF-8", connect([0x02, 0x00, 0x0A, 0x00, 0x02, 0xC3, 0x28]), .invalidUTF8(field: "client identifier")),
        ("client id surrogate (CESU-8)", connect([0x02, 0x00, 0x0A, 0x00, 0x03, 0xED, 0xA0, 0x80]), .invalidUTF8(field: "client identifier")),
        ("PUBLISH QoS 3", [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], .invalidQoS(3)),
        ("PUBLISH DUP at QoS 0", [0x38, 0x03, 0x00, 0x01, 0x61], .duplicateWithQoS0),
        ("PUBLISH wildcard +", [0x30, 0x05, 0x00, 0x03, 0x61, 0x2F, 0x2B], .wildcardInTopicName("a/+")),
        ("PUBLISH wildcard #", [0x30, 0x03, 0x00, 0x01, 0x23], .wildcardInTopicName("#")),
        ("PUBLISH empty topic", [0x30, 0x02, 0x00, 0x00], .emptyTopicName),
        ("PUBLISH packet identifier 0", [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00], .zeroPacketIdentifier(packet: "PUBLISH")),
        ("PUBLISH truncated topic", [0x30, 0x03, 0x00, 0x05, 0x61], .truncated(packet: "PUBLISH", field: "topic name")),
        ("PUBACK identifier 0", [0x40, 0x02, 0x00, 0x00], .zeroPacketIdentifier(packet: "PUBACK")),
        ("PUBACK too long", [0x40, 0x03, 0x00, 0x01, 0x00], .trailingBytes(packet: "PUBACK", count: 1)),
        ("PUBACK too short", [0x40, 0x01, 0x00], .truncated(packet: "PUBACK", field: "packet identifier")),
        ("SUBSCRIBE without filters", [0x82, 0x02, 0x00, 0x01], .noTopicFilters(packet: "SUBSCRIBE")),
        ("SUBSCRIBE reserved bits", [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x04], .reservedSubscriptionBits(4)),
        ("SUBSCRIBE QoS 3", [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03], .invalidQoS(3)),
        ("SUBSCRIBE # not last", [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x23, 0x2F, 0x61, 0x00], .invalidTopicFilter("#/a", reason: "'#' must be the last level")),
        ("SUBSCRIBE # inside a level", [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x62, 0x23, 0x00], .invalidTopicFilter("ab#", reason: "'#' must be a whole level")),
        ("SUBSCRIBE + inside a level", [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2B, 0x2F, 0x00], .invalidTopicFilter("a+/", reason: "'+' must be a whole level")),
        ("SUBSCRIBE empty filter", [0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00], .invalidTopicFilter("", reason: "empty")),
        ("SUBSCRIBE identifier 0", [0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00], .zeroPacketIdentifier(packet: "SUBSCRIBE")),
        ("SUBACK return code 3", [0x90, 0x03, 0x00, 0x01, 0x03], .invalidSubscribeReturnCode(3)),
        ("UNSUBSCRIBE without filters", [0xA2, 0x02, 0x00, 0x01], .noTopicFilters(packet: "UNSUBSCRIBE")),
        ("CONNACK reserved flags", [0x20, 0x02, 0x02, 0x00], .invalidConnectAcknowledgeFlags(2)),
        ("CONNACK return code 6", [0x20, 0x02, 0x00, 0x06], .invalidConnectReturnCode(6)),
        ("PINGREQ with a body", [0xC0, 0x01, 0x00], .trailingBytes(packet: "PINGREQ", count: 1)),
        ("DISCONNECT with a body", [0xE0, 0x01, 0x00], .trailingBytes(packet: "DISCONNECT", count: 1)),
    ]

    @Test("Each violation is refused with its own error", arguments: violations)
    func violation(name: String, bytes: [UInt8], expected: MQTTError) {
        #expect(throws: expected) { _ = try decodeOne(bytes) }
    }

    @Test("CONNECT errors the server answers with a CONNACK code, the others by closing")
    func connackCodes() {
        #expect(MQTTError.unacceptableProtocolLevel(3).connectReturnCode == .unacceptableProtocolVersion)
        #expect(MQTTError.emptyClientIdentifierWithPersistentSession.connectReturnCode == .identifierRejected)
        #expect(MQTTError.invalidProtocolName("MQIsdp").connectReturnCode == nil)
        #expect(MQTTError.reservedConnectFlagSet.connectReturnCode == nil)
    }

    @Test("A packet over the maximum size is refused as soon as its length is known")
    func tooLarge() {
        var framer = MQTTFramer(maximumPacketSize: 100)
        framer.append([0x30, 0xE5, 0x00])  // remaining length 101, body not sent
        #expect(throws: MQTTError.packetTooLarge(size: 104, limit: 100)) { _ = try framer.next() }
    }

    @Test("The encoder refuses what may not be sent")
    func encoderRules() {
        #expect(throws: MQTTError.wildcardInTopicName("a/#")) { try MQTTPacket.publish(Publish(topic: "a/#", payload: [])).encoded() }
        #expect(throws: MQTTError.zeroPacketIdentifier(packet: "PUBLISH")) {
            try MQTTPacket.publish(Publish(topic: "a", payload: [], qos: .atLeastOnce)).encoded()
        }
        #expect(throws: MQTTError.duplicateWithQoS0) { try MQTTPacket.publish(Publish(topic: "a", payload: [], duplicate: true)).encoded() }
        #expect(throws: MQTTError.noTopicFilters(packet: "SUBSCRIBE")) {
            try MQTTPacket.subscribe(Subscribe(packetIdentifier: 1, subscriptions: [])).encoded()
        }
        #expect(throws: MQTTError.fieldTooLong(field: "topic name", length: 70000)) {
            try MQTTPacket.publish(Publish(topic: String(repeating: "a", count: 70000), payload: [])).encoded()
        }
        #expect(throws: MQTTError.passwordWithoutUsername) {
            try MQTTPacket.connect(Connect(clientIdentifier: "c", password: [1])).encoded()
        }
    }
}
