/// A violation of the MQTT 3.1.1 rules, or a packet that cannot be encoded. Each rule has its own
/// case; `connectReturnCode` says which ones a server answers with a CONNACK before closing.
package enum MQTTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Packet type 0 or 15 (2.2.1).
    case reservedPacketType(UInt8)
    /// Fixed-header flag bits that the packet type does not allow (2.2.2).
    case invalidFlags(packet: String, flags: UInt8)
    /// A remaining length longer than 4 bytes (2.2.3).
    case remainingLengthTooLong
    /// A packet larger than the configured maximum (bytes, including the fixed header).
    case packetTooLarge(size: Int, limit: Int)
    /// The packet ends before `field`.
    case truncated(packet: String, field: String)
    /// Bytes left over after the last field of a packet whose length is fixed by its fields.
    case trailingBytes(packet: String, count: Int)
    /// A string that is not well-formed UTF-8 (1.5.3).
    case invalidUTF8(field: String)
    /// A string containing U+0000 (1.5.3).
    case nullCharacter(field: String)
    /// A string or binary field over 65535 bytes (encoding only).
    case fieldTooLong(field: String, length: Int)
    /// A CONNECT whose protocol name is not "MQTT" (3.1.2.1): close without CONNACK.
    case invalidProtocolName(String)
    /// A CONNECT with a protocol level other than 4 (3.1.2.2): CONNACK 1.
    case unacceptableProtocolLevel(UInt8)
    /// The reserved bit of the CONNECT flags is set (3.1.2.3).
    case reservedConnectFlagSet
    /// Will QoS or Will Retain set without the Will flag (3.1.2.5–3.1.2.7).
    case willFlagsWithoutWill
    /// A QoS of 3 (in PUBLISH, the Will, SUBSCRIBE or SUBACK).
    case invalidQoS(UInt8)
    /// The password flag without the user name flag (3.1.2.9).
    case passwordWithoutUsername
    /// A zero-length client id with Clean Session 0 (3.1.3.1): CONNACK 2.
    case emptyClientIdentifierWithPersistentSession
    /// DUP set on a QoS 0 PUBLISH (3.3.1.1).
    case duplicateWithQoS0
    /// An empty topic name (4.7.3).
    case emptyTopicName
    /// `+` or `#` in a topic name (3.3.2.1).
    case wildcardInTopicName(String)
    /// A topic filter breaking 4.7.1: empty, `#` not last or not alone in its level, `+` not alone.
    case invalidTopicFilter(String, reason: String)
    /// A packet identifier of 0 (2.3.1).
    case zeroPacketIdentifier(packet: String)
    /// A SUBSCRIBE or UNSUBSCRIBE without any topic filter (3.8.3, 3.10.3).
    case noTopicFilters(packet: String)
    /// Reserved bits set in a SUBSCRIBE's requested-QoS byte (3.8.3.1).
    case reservedSubscriptionBits(UInt8)
    /// A SUBACK return code other than 0, 1, 2 or 0x80 (3.9.3).
    case invalidSubscribeReturnCode(UInt8)
    /// Reserved bits set in the CONNACK flags (3.2.2.1).
    case invalidConnectAcknowledgeFlags(UInt8)
    /// A CONNACK return code above 5 (3.2.2.3).
    case invalidConnectReturnCode(UInt8)

    // Connection errors (client side).
    /// The TCP connection could not be made.
    case connectionFailed(String)
    /// The server answered CONNACK with a refusal.
    case connectionRefused(ConnectReturnCode)
    /// The connection ended (closed by either side, or a read or write failed).
    case connectionClosed(String)
    /// No answer in time: CONNACK, or PINGRESP within the keep-alive.
    case timedOut(String)
    /// The server sent a packet a server may not send, or one out of turn.
    case protocolViolation(String)

    /// The CONNACK a server sends before closing the connection for this error, where the
    /// specification asks for one; nil means close without answering.
    package var connectReturnCode: ConnectReturnCode? {
        switch self {
        case .unacceptableProtocolLevel: .unacceptableProtocolVersion
        case .emptyClientIdentifierWithPersistentSession: .identifierRejected
        default: nil
        }
    }

    package var description: String {
        switch self {
        case let .reservedPacketType(type): "reserved packet type \(type)"
        case let .invalidFlags(packet, flags): "\(packet): fixed-header flags 0x\(String(flags, radix: 16)) not allowed"
        case .remainingLengthTooLong: "remaining length longer than 4 bytes"
        case let .packetTooLarge(size, limit): "packet of \(size) bytes exceeds the limit of \(limit)"
        case let .truncated(packet, field): "\(packet): packet ends before \(field)"
        case let .trailingBytes(packet, count): "\(packet): \(count) unexpected bytes after the last field"
        case let .invalidUTF8(field): "\(field): not well-formed UTF-8"
        case let .nullCharacter(field): "\(field): contains U+0000"
        case let .fieldTooLong(field, length): "\(field): \(length) bytes exceeds 65535"
        case let .invalidProtocolName(name): "CONNECT: protocol name '\(name)' is not 'MQTT'"
        case let .unacceptableProtocolLevel(level): "CONNECT: protocol level \(level) is not 4 (MQTT 3.1.1)"
        case .reservedConnectFlagSet: "CONNECT: reserved flag bit set"
        case .willFlagsWithoutWill: "CONNECT: will QoS or will retain set without the will flag"
        case let .invalidQoS(value): "QoS \(value) is not 0, 1 or 2"
        case .passwordWithoutUsername: "CONNECT: password flag without user name flag"
        case .emptyClientIdentifierWithPersistentSession: "CONNECT: empty client id needs clean session"
        case .duplicateWithQoS0: "PUBLISH: DUP set at QoS 0"
        case .emptyTopicName: "empty topic name"
        case let .wildcardInTopicName(topic): "topic name '\(topic)' contains a wildcard"
        case let .invalidTopicFilter(filter, reason): "topic filter '\(filter)': \(reason)"
        case let .zeroPacketIdentifier(packet): "\(packet): packet identifier 0"
        case let .noTopicFilters(packet): "\(packet): no topic filter"
        case let .reservedSubscriptionBits(byte): "SUBSCRIBE: reserved bits set in options 0x\(String(byte, radix: 16))"
        case let .invalidSubscribeReturnCode(code): "SUBACK: return code 0x\(String(code, radix: 16)) is not 0, 1, 2 or 0x80"
        case let .invalidConnectAcknowledgeFlags(flags): "CONNACK: reserved flag bits set (0x\(String(flags, radix: 16)))"
        case let .invalidConnectReturnCode(code): "CONNACK: return code \(code) is not 0...5"
        case let .connectionFailed(detail): "cannot connect: \(detail)"
        case let .connectionRefused(code): "connection refused: CONNACK \(code.rawValue) (\(code))"
        case let .connectionClosed(detail): "connection closed: \(detail)"
        case let .timedOut(detail): "timed out: \(detail)"
        case let .protocolViolation(detail): "protocol violation by the server: \(detail)"
        }
    }
}
