/// Turns bytes, in any chunking, into whole packets: returns nothing until a whole packet is there.
///
/// One framer per connection. A packet over `maximumPacketSize` is refused as soon as its
/// remaining length is known, before its body arrives.
public struct MQTTFramer: Sendable {
    /// The largest remaining length 4 bytes can express (2.2.3).
    public static let largestRemainingLength = 268_435_455

    /// Largest packet accepted, fixed header included.
    public let maximumPacketSize: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maximumPacketSize: Int = largestRemainingLength + 5) {
        self.maximumPacketSize = maximumPacketSize
    }

    /// Bytes received and not yet taken as packets.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next whole packet, or nil until more bytes arrive. After an error the connection
    /// must be closed: the stream cannot be resynchronised.
    public mutating func next() throws(MQTTError) -> MQTTPacket? {
        guard let (headerLength, remainingLength) = try peekHeader() else { return nil }
        let total = headerLength + remainingLength
        guard buffer.count - start >= total else { return nil }
        let packetStart = start
        start += total
        let packet = try MQTTPacket.decode(header: buffer[packetStart], bytes: buffer,
                                           body: packetStart + headerLength ..< packetStart + total)
        compactIfWorthwhile()
        return packet
    }

    /// Fixed-header length and remaining length, once both are known.
    private func peekHeader() throws(MQTTError) -> (Int, Int)? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        var remainingLength = 0
        var multiplier = 1
        for offset in 1...4 {
            guard offset < available else { return nil }
            let digit = buffer[start + offset]
            remainingLength += Int(digit & 0x7F) * multiplier
            if digit & 0x80 == 0 {
                let headerLength = 1 + offset
                if headerLength + remainingLength > maximumPacketSize {
                    throw .packetTooLarge(size: headerLength + remainingLength, limit: maximumPacketSize)
                }
                return (headerLength, remainingLength)
            }
            multiplier *= 128
        }
        throw .remainingLengthTooLong
    }

    /// Gives the buffer's memory back when nothing is buffered (for an idle connection; a busy
    /// one keeps its buffer between reads).
    public mutating func releaseMemoryIfEmpty() {
        guard start == buffer.count, buffer.capacity > 0 else { return }
        buffer = []
        start = 0
    }

    /// Drops consumed bytes once they are most of the buffer, keeping appends amortised O(1).
    private mutating func compactIfWorthwhile() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 65536)
            start = 0
        } else if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
