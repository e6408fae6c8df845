/// Turns bytes, in any chunking, into whole packets: returns nothing until a whole packet is there.
///
/// One framer per connection. A packet over `maximumPacketSize` is refused as soon as its
/// remaining length is known, before its body arrives. Bytes come either through `read`, which
/// lets the socket write straight into the framer's buffer, or through `append`.
package struct MQTTFramer: Sendable {
    /// The largest remaining length 4 bytes can express (2.2.3).
    package static let largestRemainingLength = 268_435_455
    /// The buffer's size when a read starts one: enough for the small packets most clients send.
    static let initialBufferSize = 1024
    /// Reads that fill the buffer double it up to this size, so a busy connection needs few
    /// reads; no read is offered more (a bigger packet grows the buffer and comes in several).
    static let largestReadSize = 65_536

    /// Largest packet accepted, fixed header included.
    package let maximumPacketSize: Int
    /// `buffer[start..<end]` holds bytes received and not yet taken as packets; `buffer[end...]`
    /// is free space for the next read.
    private var buffer: [UInt8] = []
    private var start = 0
    private var end = 0
    /// The last topic name decoded, reused while a client keeps publishing to the same topic:
    /// bytes equal to a topic already validated need no new check and no new String.
    private var lastTopic = ""

    package init(maximumPacketSize: Int = largestRemainingLength + 5) {
        self.maximumPacketSize = maximumPacketSize
    }

    /// Bytes received and not yet taken as packets.
    package var bufferedByteCount: Int { end - start }

    /// The size of the buffer held now (0 after `releaseMemoryIfEmpty`).
    package var bufferSize: Int { buffer.count }

    package mutating func append(_ bytes: some Collection<UInt8>) {
        makeFreeSpace(atLeast: bytes.count)
        let start = end
        buffer.withUnsafeMutableBufferPointer { whole in
            _ = UnsafeMutableBufferPointer(rebasing: whole[start...]).initialize(from: bytes)
        }
        end += bytes.count
    }

    /// Lets `read` write into the free space at the end of the buffer and keeps what it wrote.
    /// `read` returns the count written, or nil when nothing was there to read. The result is
    /// that count and whether it filled the space offered (more may be waiting).
    package mutating func read<Failure: Error>(
        _ read: (UnsafeMutableRawBufferPointer) throws(Failure) -> Int?
    ) throws(Failure) -> (count: Int, filledSpace: Bool)? {
        makeFreeSpace(atLeast: 1)
        let offered = min(buffer.count - end, Self.largestReadSize)
        let start = end
        // Result carries the typed error through withUnsafeMutableBytes, which only rethrows.
        let result = buffer.withUnsafeMutableBytes { whole in
            Result { () throws(Failure) -> Int? in try read(UnsafeMutableRawBufferPointer(rebasing: whole[start..<start + offered])) }
        }
        guard let count = try result.get() else { return nil }
        precondition(count >= 0 && count <= offered, "read reported more bytes than it was given")
        end += count
        return (count, count == offered)
    }

    /// The next whole packet, or nil until more bytes arrive. After an error the connection
    /// must be closed: the stream cannot be resynchronised.
    package mutating func next() throws(MQTTError) -> MQTTPacket? {
        try nextInbound()?.packet
    }

    /// As `next`, but a PUBLISH comes as an `InboundPublish` whose payload is a slice of the
    /// framer's buffer: a server that forwards it needs no copy. Drop the packet before the
    /// next `read` or `append`, or they copy the buffer.
    package mutating func nextInbound() throws(MQTTError) -> InboundPacket? {
        guard let (headerLength, remainingLength) = try peekHeader() else { return nil }
        let total = headerLength + remainingLength
        guard end - start >= total else { return nil }
        let packetStart = start
        start += total
        if start == end {
            // Nothing left: the next read starts at the front again (no bytes to move).
            start = 0
            end = 0
        }
        return try InboundPacket.decode(header: buffer[packetStart], bytes: buffer,
                                        body: packetStart + headerLength ..< packetStart + total,
                                        lastTopic: &lastTopic)
    }

    /// Fixed-header length and remaining length, once both are known.
    private func peekHeader() throws(MQTTError) -> (Int, Int)? {
        let available = end - start
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
    package mutating func releaseMemoryIfEmpty() {
        guard start == end else { return }
        buffer = []
        start = 0
        end = 0
        lastTopic = ""
    }

    /// Ensures `needed` bytes of free space at the end. A buffer that the last read filled is
    /// doubled (up to `largestReadSize` unless a packet needs more), so bursts take few reads;
    /// otherwise the bytes kept are moved to the front when that makes enough room.
    private mutating func makeFreeSpace(atLeast needed: Int) {
        if buffer.count - end >= needed { return }
        let kept = end - start
        var size = max(buffer.count, Self.initialBufferSize)
        if buffer.count == end && !buffer.isEmpty {
            size = max(size, min(2 * buffer.count, Self.largestReadSize))
        }
        while size - kept < needed { size *= 2 }
        let keptRange = start..<end
        if size == buffer.count {
            // copyMemory allows overlapping ranges (memmove).
            buffer.withUnsafeMutableBytes { whole in
                whole.copyMemory(from: UnsafeRawBufferPointer(rebasing: whole[keptRange]))
            }
        } else {
            var larger = [UInt8](repeating: 0, count: size)
            larger.withUnsafeMutableBytes { target in
                buffer.withUnsafeBytes { source in
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[keptRange]))
                }
            }
            buffer = larger
        }
        start = 0
        end = kept
    }
}
