/// Compact JSON text for published payloads.
extension JSONValue {
    /// This value as compact JSON; object keys sorted, so equal values give equal text.
    public var jsonText: String {
        var text = ""
        Self.write(self, to: &text)
        return text
    }

    /// An object with its keys in the given order (a telemetry document lists points in profile order).
    public static func objectText(_ fields: [(String, JSONValue)]) -> String {
        var text = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { text += "," }
            writeString(key, to: &text)
            text += ":"
            write(value, to: &text)
        }
        return text + "}"
    }

    private static func write(_ value: JSONValue, to text: inout String) {
        switch value {
        case .null: text += "null"
        case let .bool(flag): text += flag ? "true" : "false"
        case let .integer(number): text += String(number)
        case let .number(number): text += numberText(number)
        case let .string(string): writeString(string, to: &text)
        case let .array(items):
            text += "["
            for (index, item) in items.enumerated() {
                if index > 0 { text += "," }
                write(item, to: &text)
            }
            text += "]"
        case let .object(fields):
            text += objectText(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }

    /// Integral values without a fraction (65, not 65.0); others in the shortest form that reads
    /// back the same. JSON has no NaN or infinity: those become null (decoders publish them as errors).
    static func numberText(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return number.description
    }

    private static func writeString(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
