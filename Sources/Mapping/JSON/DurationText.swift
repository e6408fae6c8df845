/// Durations in config files: a number of milliseconds, or a string with a unit
/// (`"250ms"`, `"1.5s"`, `"2m"`, `"1h"`).
public enum DurationText {
    static func parse(_ value: JSONValue) -> Duration? {
        switch value {
        case let .integer(milliseconds) where milliseconds >= 0:
            return .milliseconds(milliseconds)
        case let .number(milliseconds) where milliseconds >= 0 && milliseconds.isFinite:
            return .microseconds(Int64((milliseconds * 1000).rounded()))
        case let .string(text):
            return parse(text)
        default:
            return nil
        }
    }

    public static func parse(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let value = Double(number), value.isFinite, value <= 1e9 else { return nil }
            return .microseconds(Int64((value * milliseconds * 1000).rounded()))
        }
        return nil
    }

    /// The shortest of `ms`, `s`, `m`, `h` that shows `duration` exactly (for messages).
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (suffix, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)] where milliseconds >= size && milliseconds % size == 0 {
            return "\(milliseconds / size)\(suffix)"
        }
        return "\(milliseconds)ms"
    }
}
