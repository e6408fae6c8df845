/// Reads whole frames out of a client's bytes: `next()` returns nothing until a frame's header
/// and payload are all there; payloads come out unmasked.
///
/// The frame's header is checked as soon as it is there, before its payload is waited for:
/// reserved bits, opcode, mask, length against `maximumPayload`, control frame rules and the
/// order of fragments (RFC 6455 sections 5.2, 5.4 and 5.5). The framer keeps whether a
/// fragmented message is open; control frames may come between its fragments.
package struct WebSocketFramer: Sendable {
    /// The largest payload of one frame.
    package let maximumPayload: Int
    /// `buffer[start...]` holds bytes not yet returned as frames; `buffer[..<start]` is dropped
    /// at the next `append` when that moves no more bytes than it frees.
    private var buffer: [UInt8] = []
    private var start = 0
    /// A text or binary frame without FIN was returned and its final continuation was not yet.
    private var messageOpen = false

    package init(maximumPayload: Int) {
        self.maximumPayload = maximumPayload
    }

    package mutating func append(_ bytes: some Collection<UInt8>) {
        dropConsumedBytes()
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, or nil until more bytes come.
    package mutating func next() throws(WebSocketError) -> WebSocketFrame? {
        guard let header = try readHeader() else { return nil }
        let payloadStart = start + header.length
        guard buffer.count - payloadStart >= header.payloadLength else { return nil }
        var payload = Array(buffer[payloadStart..<payloadStart + header.payloadLength])
        Self.unmask(&payload, key: header.maskKey)
        start = payloadStart + header.payloadLength
        if !header.opcode.isControl { messageOpen = !header.fin }
        return WebSocketFrame(fin: header.fin, opcode: header.opcode, payload: payload)
    }

    package var bufferedCount: Int { buffer.count - start }

    package mutating func releaseMemoryIfEmpty() {
        if bufferedCount == 0 {
            buffer = []
            start = 0
        }
    }

    private struct Header {
        var fin: Bool
        var opcode: WebSocketOpcode
        var maskKey: (UInt8, UInt8, UInt8, UInt8)
        var payloadLength: Int
        /// The header's own length: 2, the extended length (0, 2 or 8) and the mask key (4).
        var length: Int
    }

    /// The header at `start`, checked, or nil until all its bytes are there.
    private func readHeader() throws(WebSocketError) -> Header? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        let first = buffer[start]
        let second = buffer[start + 1]
        guard first & 0x70 == 0 else { throw .reservedBitsSet }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else { throw .unknownOpcode(first & 0x0F) }
        let fin = first & 0x80 != 0
        // Section 5.1: every frame from a client is masked.
        guard second & 0x80 != 0 else { throw .unmaskedClientFrame }
        let shortLength = Int(second & 0x7F)
        if opcode.isControl {
            // Section 5.5: control frames carry at most 125 bytes and are never fragmented.
            guard fin, shortLength <= 125 else { throw .badControlFrame }
        } else if opcode == .continuation {
            guard messageOpen else { throw .badFragmentation }
        } else {
            guard !messageOpen else { throw .badFragmentation }
        }
        let extendedLength = shortLength == 127 ? 8 : shortLength == 126 ? 2 : 0
        guard available >= 2 + extendedLength else { return nil }
        var length = UInt64(shortLength)
        if extendedLength > 0 {
            length = 0
            for offset in 0..<extendedLength { length = length << 8 | UInt64(buffer[start + 2 + offset]) }
            // Section 5.2: the 64-bit length's most significant bit must be 0. A length in
            // more bytes than needed is taken as it is.
            guard length >> 63 == 0 else { throw .badLength }
        }
        guard length <= UInt64(maximumPayload) else { throw .frameTooLarge(length: length, limit: maximumPayload) }
        let headerLength = 2 + extendedLength + 4
        guard available >= headerLength else { return nil }
        let keyStart = start + 2 + extendedLength
        return Header(fin: fin, opcode: opcode,
                      maskKey: (buffer[keyStart], buffer[keyStart + 1], buffer[keyStart + 2], buffer[keyStart + 3]),
                      payloadLength: Int(length), length: headerLength)
    }

    /// Section 5.3: byte i of the payload is XORed with byte i mod 4 of the key.
    private static func unmask(_ payload: inout [UInt8], key: (UInt8, UInt8, UInt8, UInt8)) {
        withUnsafeBytes(of: key) { key in
            payload.withUnsafeMutableBufferPointer { bytes in
                for index in bytes.indices { bytes[index] ^= key[index & 3] }
            }
        }
    }

    /// Drops the bytes of returned frames (`ConsumedBytes`).
    private mutating func dropConsumedBytes() {
        if ConsumedBytes.drop(&buffer, before: start) > 0 { start = 0 }
    }
}
