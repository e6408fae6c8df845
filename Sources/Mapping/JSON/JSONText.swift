/// Compact JSON for published payloads, written straight into bytes (a payload is bytes; a
/// telemetry document is built at every poll, so no intermediate strings).
extension JSONValue {
    /// This value as compact JSON; object keys sorted, so equal values give equal text.
    package var jsonText: String {
        String(decoding: jsonBytes, as: UTF8.self)
    }

    /// `jsonText` as UTF-8 bytes.
    package var jsonBytes: [UInt8] {
        var bytes: [UInt8] = []
        Self.write(self, to: &bytes)
        return bytes
    }

    /// Appends this value as compact JSON to `bytes`.
    package func appendJSON(to bytes: inout [UInt8]) {
        Self.write(self, to: &bytes)
    }

    /// `"key":` as JSON bytes: the start of an object member whose key is known ahead (a
    /// telemetry document's point names are escaped once, not at every poll).
    package static func memberPrefix(_ key: String) -> [UInt8] {
        var bytes: [UInt8] = []
        writeString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        return bytes
    }

    /// An object with its keys in the given order (a telemetry document lists points in profile order).
    package static func objectText(_ fields: [(String, JSONValue)]) -> String {
        String(decoding: objectBytes(fields), as: UTF8.self)
    }

    /// `objectText` as UTF-8 bytes.
    package static func objectBytes(_ fields: [(String, JSONValue)]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + fields.count * 24)
        writeObject(fields, to: &bytes)
        return bytes
    }

    private static func writeObject(_ fields: [(String, JSONValue)], to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "{"))
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            write(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    private static func write(_ value: JSONValue, to bytes: inout [UInt8]) {
        switch value {
        case .null: bytes += "null".utf8
        case let .bool(flag): bytes += (flag ? "true" : "false").utf8
        case let .integer(number): appendDecimal(number, to: &bytes)
        case let .number(number):
            if let integer = integral(number) { appendDecimal(integer, to: &bytes) } else { bytes += numberText(number).utf8 }
        case let .string(string): writeString(string, to: &bytes)
        case let .array(items):
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(item, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case let .object(fields):
            writeObject(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: &bytes)
        }
    }

    /// Integral values without a fraction (65, not 65.0); others in the shortest form that reads
    /// back the same. JSON has no NaN or infinity: those become null (decoders publish them as errors).
    static func numberText(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if let integer = integral(number) { return String(integer) }
        return number.description
    }

    /// `number` as an integer, if it has no fraction and is written exactly that way.
    private static func integral(_ number: Double) -> Int64? {
        number.isFinite && number == number.rounded() && abs(number) < 1e15 ? Int64(number) : nil
    }

    /// A JSON string: UTF-8 bytes as they are, except `"`, `\` and control characters escaped.
    private static func writeString(_ string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += #"\""#.utf8
            case UInt8(ascii: "\\"): bytes += #"\\"#.utf8
            case UInt8(ascii: "\n"): bytes += #"\n"#.utf8
            case UInt8(ascii: "\r"): bytes += #"\r"#.utf8
            case UInt8(ascii: "\t"): bytes += #"\t"#.utf8
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += #"\u00"#.utf8
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
