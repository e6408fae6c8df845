/// Reads the fields of one packet body; every read names the field it wanted when bytes run out.
struct PacketReader {
    let packet: String
    private let bytes: [UInt8]
    private(set) var index: Int
    private let end: Int

    init(packet: String, bytes: [UInt8], range: Range<Int>) {
        self.packet = packet
        self.bytes = bytes
        self.index = range.lowerBound
        self.end = range.upperBound
    }

    var remaining: Int { end - index }
    var isAtEnd: Bool { index == end }

    mutating func byte(_ field: String) throws(MQTTError) -> UInt8 {
        guard index < end else { throw .truncated(packet: packet, field: field) }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint16(_ field: String) throws(MQTTError) -> UInt16 {
        guard end - index >= 2 else { throw .truncated(packet: packet, field: field) }
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    /// A non-zero packet identifier (2.3.1).
    mutating func packetIdentifier() throws(MQTTError) -> UInt16 {
        let identifier = try uint16("packet identifier")
        if identifier == 0 { throw .zeroPacketIdentifier(packet: packet) }
        return identifier
    }

    /// Two-byte length, then that many bytes.
    mutating func binary(_ field: String) throws(MQTTError) -> [UInt8] {
        Array(try lengthPrefixed(field))
    }

    /// A UTF-8 encoded string (1.5.3): well-formed, without U+0000.
    mutating func string(_ field: String) throws(MQTTError) -> String {
        let slice = try lengthPrefixed(field)
        if slice.contains(0) { throw .nullCharacter(field: field) }
        guard let text = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return text
    }

    /// A PUBLISH topic name: a string without wildcards (4.7). Bytes equal to `last`, a topic
    /// name that passed these checks, give `last` back unchecked; a new name becomes `last`.
    mutating func topicName(reusing last: inout String) throws(MQTTError) -> String {
        let field = "topic name"
        let slice = try lengthPrefixed(field)
        if !slice.isEmpty && slice.count == last.utf8.count && last.utf8.elementsEqual(slice) { return last }
        if slice.contains(0) { throw .nullCharacter(field: field) }
        guard let text = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        try Topic.validateName(text)
        last = text
        return text
    }

    /// Two-byte length, then that many bytes, left where they are.
    private mutating func lengthPrefixed(_ field: String) throws(MQTTError) -> ArraySlice<UInt8> {
        let length = Int(try uint16(field))
        guard end - index >= length else { throw .truncated(packet: packet, field: field) }
        defer { index += length }
        return bytes[index..<index + length]
    }

    /// The rest of the packet (a PUBLISH payload), left where it is.
    mutating func rest() -> ArraySlice<UInt8> {
        defer { index = end }
        return bytes[index..<end]
    }

    func expectEnd() throws(MQTTError) {
        if index != end { throw .trailingBytes(packet: packet, count: end - index) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendBinary(_ bytes: [UInt8], field: String) throws(MQTTError) {
        guard bytes.count <= 65535 else { throw .fieldTooLong(field: field, length: bytes.count) }
        appendUInt16(UInt16(bytes.count))
        append(contentsOf: bytes)
    }

    mutating func appendString(_ text: String, field: String) throws(MQTTError) {
        let length = text.utf8.count
        guard length <= 65535 else { throw .fieldTooLong(field: field, length: length) }
        if text.utf8.contains(0) { throw .nullCharacter(field: field) }
        appendUInt16(UInt16(length))
        append(contentsOf: text.utf8)
    }

    /// The variable byte integer of the remaining length (2.2.3): 1 to 4 bytes.
    mutating func appendRemainingLength(_ length: Int) throws(MQTTError) {
        guard length <= MQTTFramer.largestRemainingLength else {
            throw .packetTooLarge(size: length, limit: MQTTFramer.largestRemainingLength)
        }
        appendCheckedRemainingLength(length)
    }

    /// A PUBLISH (3.3) whose topic name the caller has checked and whose size it has kept within
    /// the protocol's limits (a broker forwarding what it accepted), encoded in place.
    /// `packetIdentifier` is written only for QoS 1 and 2. (No reserveCapacity here: it grows
    /// the array to exactly the size asked, which makes a burst of appends quadratic.)
    package mutating func appendCheckedPublish(topic: String, payload: ArraySlice<UInt8>, qos: QoS, retain: Bool,
                                              duplicate: Bool = false, packetIdentifier: UInt16 = 0) {
        let topicLength = topic.utf8.count
        let remainingLength = 2 + topicLength + (qos == .atMostOnce ? 0 : 2) + payload.count
        append(0x30 | (duplicate ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0))
        appendCheckedRemainingLength(remainingLength)
        appendUInt16(UInt16(topicLength))
        append(contentsOf: topic.utf8)
        if qos != .atMostOnce { appendUInt16(packetIdentifier) }
        append(contentsOf: payload)
    }

    /// The remaining-length bytes of `length`, which the caller has kept within
    /// `MQTTFramer.largestRemainingLength` (the broker, whose packets are bounded by its limits).
    package mutating func appendCheckedRemainingLength(_ length: Int) {
        var value = length
        repeat {
            var digit = UInt8(value % 128)
            value /= 128
            if value > 0 { digit |= 0x80 }
            append(digit)
        } while value > 0
    }
}
