/// A WebSocket frame's opcode (RFC 6455 section 5.2).
package enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Close, ping and pong (opcodes 0x8 and above): at most 125 bytes, never fragmented (section 5.5).
    package var isControl: Bool { rawValue >= 0x8 }
}

/// One WebSocket frame, its payload unmasked.
package struct WebSocketFrame: Sendable, Equatable {
    package var fin: Bool
    package var opcode: WebSocketOpcode
    package var payload: [UInt8]

    package init(fin: Bool = true, opcode: WebSocketOpcode, payload: [UInt8] = []) {
        self.fin = fin
        self.opcode = opcode
        self.payload = payload
    }

    /// Appends a server frame (never masked, section 5.1) carrying `payload`.
    package static func encode(opcode: WebSocketOpcode, payload: some Collection<UInt8>, fin: Bool = true, into output: inout [UInt8]) {
        // Byte 0: FIN and the opcode; byte 1: no mask and the length's form (section 5.2).
        output.append((fin ? 0x80 : 0) | opcode.rawValue)
        let length = payload.count
        if length < 126 {
            output.append(UInt8(length))
        } else if length <= 0xFFFF {
            output.append(126)
            output.append(UInt8(length >> 8))
            output.append(UInt8(length & 0xFF))
        } else {
            output.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(shift))) }
        }
        output.append(contentsOf: payload)
    }

    /// The payload of a close frame: the status code (section 7.4) and a UTF-8 reason.
    package static func closePayload(code: UInt16, reason: String = "") -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
    }
}

/// Why a client's frames are refused; the connection is closed with `closeCode`.
package enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// RSV1–3 set with no extension negotiated.
    case reservedBitsSet
    /// An opcode RFC 6455 does not define.
    case unknownOpcode(UInt8)
    /// A client frame without a mask (section 5.1: the server must close).
    case unmaskedClientFrame
    /// A payload longer than the limit.
    case frameTooLarge(length: UInt64, limit: Int)
    /// A control frame longer than 125 bytes or fragmented.
    case badControlFrame
    /// A continuation with no message started, or a new message before the last one finished.
    case badFragmentation
    /// A 64-bit payload length with its most significant bit set (section 5.2).
    case badLength

    /// The close status sent before closing (section 7.4.1): 1002 protocol error, 1009 too big.
    package var closeCode: UInt16 {
        switch self {
        case .frameTooLarge: 1009
        default: 1002
        }
    }

    package var description: String {
        switch self {
        case .reservedBitsSet: "reserved bits set"
        case let .unknownOpcode(opcode): "unknown opcode \(opcode)"
        case .unmaskedClientFrame: "unmasked client frame"
        case let .frameTooLarge(length, limit): "frame of \(length) bytes, more than \(limit)"
        case .badControlFrame: "control frame longer than 125 bytes or fragmented"
        case .badFragmentation: "continuation frame out of place"
        case .badLength: "64-bit payload length with its most significant bit set"
        }
    }
}

/// The opening handshake's server side (RFC 6455 section 4.2).
package enum WebSocketHandshake {
    /// The GUID appended to the client's key before hashing (section 1.3).
    package static let keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// What `Sec-WebSocket-Accept` must hold: base64(SHA-1(key + GUID)), with the hash and the
    /// encoding given (this module has no crypto; the broker passes TLS's).
    package static func acceptValue(key: String, sha1: ([UInt8]) -> [UInt8], base64: ([UInt8]) -> String) -> String {
        base64(sha1(Array((key + keyGUID).utf8)))
    }
}
