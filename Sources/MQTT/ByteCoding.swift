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
        let length = Int(try uint16(field))
        guard end - index >= length else { throw .truncated(packet: packet, field: field) }
        defer { index += length }
        return Array(bytes[index..<index + length])
    }

    /// A UTF-8 encoded string (1.5.3): well-formed, without U+0000.
    mutating func string(_ field: String) throws(MQTTError) -> String {
        let length = Int(try uint16(field))
        guard end - index >= length else { throw .truncated(packet: packet, field: field) }
        let slice = bytes[index..<index + length]
        index += length
        if slice.contains(0) { throw .nullCharacter(field: field) }
        guard let text = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return text
    }

    /// The rest of the packet (a PUBLISH payload).
    mutating func rest() -> [UInt8] {
        defer { index = end }
        return Array(bytes[index..<end])
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

    /// The remaining-length bytes of `length`, which the caller has kept within
    /// `MQTTFramer.largestRemainingLength` (the broker, whose packets are bounded by its limits).
    public mutating func appendCheckedRemainingLength(_ length: Int) {
        var value = length
        repeat {
            var digit = UInt8(value % 128)
            value /= 128
            if value > 0 { digit |= 0x80 }
            append(digit)
        } while value > 0
    }
}
