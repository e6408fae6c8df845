import HTTP

/// A client's frame (RFC 6455 section 5.2): masked with `key`, its length in the form given
/// (the minimal one unless told), for feeding the server's framer.
func clientFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D],
                 lengthForm: Int? = nil) -> [UInt8] {
    var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
    let form = lengthForm ?? (payload.count < 126 ? 1 : payload.count <= 0xFFFF ? 2 : 8)
    switch form {
    case 1: bytes.append(0x80 | UInt8(payload.count))
    case 2: bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    default: bytes += [0x80 | 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (8 * UInt64($0))) }
    }
    bytes += key
    bytes += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    return bytes
}

/// The frames a framer reads from `bytes` given in pieces split at `splits`, and the error that
/// stopped it, if any.
func frameWebSocket(_ bytes: [UInt8], splits: [Int] = [], maximumPayload: Int = 1 << 20) -> (frames: [WebSocketFrame], error: WebSocketError?) {
    var framer = WebSocketFramer(maximumPayload: maximumPayload)
    var frames: [WebSocketFrame] = []
    var from = 0
    for end in splits + [bytes.count] {
        framer.append(bytes[from..<end])
        from = end
        do {
            while let frame = try framer.next() { frames.append(frame) }
        } catch {
            return (frames, error)
        }
    }
    return (frames, nil)
}
