/// A packet that is a fixed header, remaining length 2 and a packet identifier, nothing else;
/// the raw value is its first byte (packet type and the fixed flags 2.2.2 requires).
package enum IdentifierAcknowledgement: UInt8, Sendable {
    /// PUBACK (3.4): answers a QoS 1 PUBLISH.
    case publishAcknowledgement = 0x40
    /// PUBREC (3.5): first answer to a QoS 2 PUBLISH.
    case publishReceived = 0x50
    /// PUBREL (3.6): flags 0010 (3.6.1).
    case publishRelease = 0x62
    /// PUBCOMP (3.7): answers PUBREL.
    case publishComplete = 0x70
    /// UNSUBACK (3.11).
    case unsubscribeAcknowledgement = 0xB0
}

// Control packets appended in place to a caller's output buffer: the broker writes these on its
// hot path (a PUBACK per QoS 1 message), so no array is built per packet. The caller guarantees
// what `MQTTPacket.encoded()` would check: a non-zero packet identifier (2.3.1), and for SUBACK a
// list of return codes that fits a packet (one per topic filter of a SUBSCRIBE it decoded).
extension Array where Element == UInt8 {
    /// CONNACK (3.2): 0x20, remaining length 2, session-present flag (3.2.2.2), return code (3.2.2.3).
    package mutating func appendConnectAcknowledgement(sessionPresent: Bool, returnCode: ConnectReturnCode) {
        append(0x20)
        append(0x02)
        append(sessionPresent ? 1 : 0)
        append(returnCode.rawValue)
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK: first byte, remaining length 2, the packet identifier.
    package mutating func appendAcknowledgement(_ kind: IdentifierAcknowledgement, packetIdentifier: UInt16) {
        append(kind.rawValue)
        append(0x02)
        appendUInt16(packetIdentifier)
    }

    /// SUBACK (3.9): 0x90, remaining length, packet identifier, one return code per filter (3.9.3).
    package mutating func appendSubscribeAcknowledgement(packetIdentifier: UInt16, returnCodes: [SubscribeReturnCode]) {
        append(0x90)
        appendCheckedRemainingLength(2 + returnCodes.count)
        appendUInt16(packetIdentifier)
        for code in returnCodes { append(code.rawValue) }
    }

    /// PINGRESP (3.13): 0xD0, remaining length 0.
    package mutating func appendPingResponse() {
        append(0xD0)
        append(0x00)
    }
}
