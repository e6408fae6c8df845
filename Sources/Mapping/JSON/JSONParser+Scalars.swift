/// Strings (escapes, UTF-8, surrogates) and numbers of the JSON parser.
extension JSONParser {
    /// The string whose opening quote is at `offset`, unescaped (RFC 8259 §7), its UTF-8 checked.
    mutating func string() throws(Failure) -> String {
        let start = offset
        offset += 1
        var segmentStart = offset
        var unescaped: [UInt8] = []
        var hasEscapes = false
        while true {
            guard offset < bytes.count else {
                let (line, column) = position(of: start)
                throw Failure(offset: offset, message: "unterminated string (it starts at line \(line) column \(column))")
            }
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\""):
                let text: String
                if hasEscapes {
                    unescaped.append(contentsOf: bytes[segmentStart..<offset])
                    text = String(decoding: unescaped, as: UTF8.self)
                } else {
                    text = String(decoding: bytes[segmentStart..<offset], as: UTF8.self)
                }
                offset += 1
                return text
            case UInt8(ascii: "\\"):
                unescaped.append(contentsOf: bytes[segmentStart..<offset])
                hasEscapes = true
                try escape(into: &unescaped)
                segmentStart = offset
            case 0x0A, 0x0D:
                throw Failure(offset: offset, message: "line break in a string (is its closing '\"' missing? A line break in a string is written \\n)")
            case 0..<0x20:
                throw Failure(offset: offset, message: "control character \(Self.hex(byte)) in a string (write it escaped, as \\t or \\u00XX)")
            case 0x20..<0x80:
                offset += 1
            default:
                guard let (_, length) = scalar(at: offset) else {
                    throw Failure(offset: offset, message: "invalid UTF-8 byte \(Self.hex(byte)) in a string (is the file saved in another encoding, such as Latin-1? JSON files are UTF-8)")
                }
                offset += length
            }
        }
    }

    /// The escape whose backslash is at `offset`, appended as UTF-8; `offset` moves past it.
    private mutating func escape(into buffer: inout [UInt8]) throws(Failure) {
        let backslash = offset
        offset += 1
        guard offset < bytes.count else { throw Failure(offset: backslash, message: "unterminated string (it ends in a '\\')") }
        let simple: UInt8? = switch bytes[offset] {
        case UInt8(ascii: "\""): UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): UInt8(ascii: "\\")
        case UInt8(ascii: "/"): UInt8(ascii: "/")
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
        if let simple {
            buffer.append(simple)
            offset += 1
            return
        }
        guard bytes[offset] == UInt8(ascii: "u") else {
            let escape = scalar(at: offset).map { String(Character($0.0)) } ?? Self.hex(bytes[offset])
            throw Failure(offset: backslash, message: "invalid escape '\\\(escape)' in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
        }
        let first = try hexQuad(escapeAt: backslash)
        offset = backslash + 6
        var value = UInt32(first)
        switch first {
        case 0xD800...0xDBFF:
            // A high surrogate must be followed by a low one: together they are one scalar (§7).
            guard peek(UInt8(ascii: "\\")), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u"),
                  let second = hexDigits(at: offset + 2), (0xDC00...0xDFFF).contains(second) else {
                throw Failure(offset: backslash, message: "lone surrogate \(text(backslash, 6)) in a string (a high surrogate must be followed by a low one, \\uDC00...\\uDFFF)")
            }
            value = 0x10000 + (UInt32(first) - 0xD800) << 10 + (UInt32(second) - 0xDC00)
            offset += 6
        case 0xDC00...0xDFFF:
            throw Failure(offset: backslash, message: "lone surrogate \(text(backslash, 6)) in a string (a low surrogate without a high one before it)")
        default:
            break
        }
        // Not a surrogate here, so always a scalar.
        guard let scalar = Unicode.Scalar(value) else { throw Failure(offset: backslash, message: "invalid escape \(text(backslash, 6))") }
        buffer.append(contentsOf: String(Character(scalar)).utf8)
    }

    /// The four hex digits after `\u` at `backslash`.
    private func hexQuad(escapeAt backslash: Int) throws(Failure) -> UInt16 {
        guard let value = hexDigits(at: backslash + 2) else {
            throw Failure(offset: backslash, message: "expected 4 hex digits after '\\u', found \(text(backslash, 6))")
        }
        return value
    }

    private func hexDigits(at start: Int) -> UInt16? {
        guard start + 4 <= bytes.count else { return nil }
        var value: UInt16 = 0
        for byte in bytes[start..<start + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// Up to `count` bytes of the file from `start`, as text for a message.
    private func text(_ start: Int, _ count: Int) -> String {
        let end = min(bytes.count, start + count)
        return "'" + String(decoding: bytes[start..<end], as: UTF8.self) + "'"
    }

    /// The scalar whose UTF-8 encoding starts at `index` and its length in bytes; nil where the
    /// bytes are not well-formed UTF-8 (RFC 3629 §4: no overlong forms, no surrogates, ≤ U+10FFFF).
    func scalar(at index: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[index]
        func continuation(_ position: Int) -> UInt32? {
            guard index + position < bytes.count, bytes[index + position] & 0xC0 == 0x80 else { return nil }
            return UInt32(bytes[index + position] & 0x3F)
        }
        let value: UInt32
        let length: Int
        switch lead {
        case 0x00...0x7F:
            return (Unicode.Scalar(lead), 1)
        case 0xC2...0xDF:
            guard let second = continuation(1) else { return nil }
            (value, length) = (UInt32(lead & 0x1F) << 6 | second, 2)
        case 0xE0...0xEF:
            guard let second = continuation(1), let third = continuation(2) else { return nil }
            (value, length) = (UInt32(lead & 0x0F) << 12 | second << 6 | third, 3)
            guard value >= 0x800 else { return nil }
        case 0xF0...0xF4:
            guard let second = continuation(1), let third = continuation(2), let fourth = continuation(3) else { return nil }
            (value, length) = (UInt32(lead & 0x07) << 18 | second << 12 | third << 6 | fourth, 4)
            guard value >= 0x10000 else { return nil }
        default:
            return nil
        }
        // Unicode.Scalar refuses surrogates and values past U+10FFFF.
        return Unicode.Scalar(value).map { ($0, length) }
    }

    /// The number at `offset` (§6): an integer if it is a whole number that fits 64 bits (written
    /// `5`, or `5.0` or `5e0` within ±2^53 where a Double holds it exactly, as JSON Schema's
    /// "integer"), else a Double; a number beyond a Double's range is an error.
    mutating func number() throws(Failure) -> JSONValue {
        let start = offset
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard offset < bytes.count, isDigit(bytes[offset]) else {
            let hint = peek(UInt8(ascii: "I")) ? " (JSON has no Infinity)" : ""
            throw Failure(offset: offset, message: "expected a digit after '-', found \(found())\(hint)")
        }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
            if offset < bytes.count, isDigit(bytes[offset]) {
                throw Failure(offset: start, message: "leading zeros are not allowed in a number: \(token(from: start))")
            }
        } else {
            skipDigits()
        }
        var whole = true
        if peek(UInt8(ascii: ".")) {
            offset += 1
            guard offset < bytes.count, isDigit(bytes[offset]) else {
                throw Failure(offset: offset, message: "expected a digit after '.' in the number \(token(from: start))")
            }
            skipDigits()
            whole = false
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            offset += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { offset += 1 }
            guard offset < bytes.count, isDigit(bytes[offset]) else {
                throw Failure(offset: offset, message: "expected a digit in the exponent of the number \(token(from: start))")
            }
            skipDigits()
            whole = false
        }
        if offset < bytes.count, isWordByte(bytes[offset]) {
            throw Failure(offset: start, message: "invalid number \(token(from: start))")
        }
        if whole, let exact = Self.integer(bytes[start..<offset]) { return .integer(exact) }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard let number = Double(text), number.isFinite else {
            throw Failure(offset: start, message: "number out of range: \(text.count > 40 ? text.prefix(40) + "…" : text) (a number is at most ±1.8e308)")
        }
        if number == number.rounded(), abs(number) <= 9_007_199_254_740_992 { return .integer(Int64(number)) }
        return .number(number)
    }

    private mutating func skipDigits() {
        while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// The word (number-like run of characters) from `start`, quoted, for messages.
    private func token(from start: Int) -> String {
        var end = start
        while end < bytes.count, end - start < 40, isWordByte(bytes[end]) { end += 1 }
        return "'" + String(decoding: bytes[start..<end], as: UTF8.self) + "'"
    }

    /// Decimal digits with an optional '-' as an Int64; nil if the value does not fit.
    private static func integer(_ digits: ArraySlice<UInt8>) -> Int64? {
        var value: Int64 = 0
        let negative = digits.first == UInt8(ascii: "-")
        for byte in digits.dropFirst(negative ? 1 : 0) {
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            // Negative numbers are built downwards so that Int64.min fits.
            let (next, carry) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if overflow || carry { return nil }
            value = next
        }
        return value
    }
}
