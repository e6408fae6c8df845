/// Modbus ASCII frames (Modbus over Serial Line V1.02 §2.5.2): `:`, the unit, PDU and LRC bytes
/// each as two uppercase hex digits, then CR LF.
package enum ASCIIFrame {
    /// The character that starts every frame.
    package static let start = UInt8(ascii: ":")
    static let carriageReturn = UInt8(ascii: "\r")
    static let lineFeed = UInt8(ascii: "\n")
    /// The longest frame between `:` and CR LF: 256 bytes of unit, PDU and LRC, two hex digits each
    /// (§2.5.2.1 gives 513 characters for the whole frame).
    static let characterLimit = 2 * 256

    /// The whole frame for `unit` and `pdu`, `:` to CR LF.
    package static func encode(unit: UInt8, pdu: [UInt8]) -> [UInt8] {
        let body = [unit] + pdu
        var frame: [UInt8] = [start]
        frame.reserveCapacity(2 * body.count + 5)
        for byte in body + [lrc(body[...])] {
            frame.append(hexDigit(byte >> 4))
            frame.append(hexDigit(byte & 0x0F))
        }
        frame += [carriageReturn, lineFeed]
        return frame
    }

    /// The LRC of `bytes`: the two's complement of their 8-bit sum (§2.5.2.2, §6.2.1).
    package static func lrc(_ bytes: ArraySlice<UInt8>) -> UInt8 {
        var sum: UInt8 = 0
        for byte in bytes { sum &+= byte }
        return 0 &- sum
    }

    /// The bytes (unit, PDU, LRC) that the hex `characters` between `:` and CR LF stand for,
    /// with the LRC checked; or why they are no frame.
    static func decode(_ characters: ArraySlice<UInt8>) -> Result<[UInt8], AnswerDecoder.Refusal> {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var high: UInt8?
        for (offset, character) in characters.enumerated() {
            guard let value = hexValue(character) else {
                return .failure(AnswerDecoder.Refusal("character \(describe(character)) at position \(offset + 1) after ':' is not a hex digit"))
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        if high != nil { return .failure(AnswerDecoder.Refusal("odd number of hex digits (\(characters.count)) between ':' and CR LF")) }
        // Unit, function and LRC at least.
        guard bytes.count >= 3 else { return .failure(AnswerDecoder.Refusal("too short: \(bytes.count) bytes between ':' and CR LF")) }
        guard lrc(bytes.dropLast()) == bytes[bytes.count - 1] else { return .failure(AnswerDecoder.Refusal(kind: .lrcMismatch)) }
        return .success(bytes)
    }

    /// Checks `bytes` (unit, PDU, LRC, decoded and LRC-checked) as the answer to `request` for
    /// `unit`; `sent` is the request as sent: unit and PDU. The check is RTU's (`AnswerDecoder`);
    /// only the length comes from the frame, which CR LF closes.
    static func check(_ bytes: [UInt8], request: ModbusRequest, unit: UInt8, sent: [UInt8]) -> RTUAnswer.Verdict {
        let function = request.functionCode
        // A correct FC05/FC06 answer is the request itself (Application Protocol §6.5, §6.6).
        if function != 5 && function != 6 && bytes.dropLast().elementsEqual(sent) {
            return .rejected(.invalidFrame("the request came back unchanged (an echo: is the RS-485 adapter echoing what it sends?)"))
        }
        switch AnswerDecoder.decode(bytes[...], checksumLength: 1, request: request, unit: unit) {
        case let .failure(refusal):
            return .rejected(refusal.kind)
        case let .success(response):
            // RTU's length less one byte: the LRC is one byte where the CRC is two.
            let length = RTUAnswer.expectedLength(of: request) - 1
            if bytes.count > length { return .rejected(.invalidFrame("too long: \(bytes.count - length) bytes after the frame")) }
            return .accepted(response, strayBytes: 0)
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    /// The value of a hex digit; lowercase is taken too (the specification asks for uppercase
    /// on the wire, and a master loses nothing by being lenient in what it reads).
    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func describe(_ character: UInt8) -> String {
        (0x21...0x7E).contains(character) ? "'\(Character(Unicode.Scalar(character)))'" : "0x\(AnswerDecoder.hex(character))"
    }
}
