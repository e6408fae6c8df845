/// Durations in config files: a number of milliseconds, or a string with a unit
/// (`"250ms"`, `"1.5s"`, `"2m"`, `"1h"`).
///
/// Every value from a file is range-checked before it becomes a `Duration`: a number too large
/// for one (`1e19`, `18446744073709551616`) is nil here, reported by the caller with its path,
/// never a trap.
package enum DurationText {
    /// The longest duration a file may give: 1e9 milliseconds (11.6 days) is far beyond every
    /// range a config accepts, and far inside what `Duration` and `Int64` microseconds hold.
    static let longestMilliseconds = 1e9

    /// A number of milliseconds or a string with a unit, as a duration; nil for anything else.
    package static func parse(_ value: JSONValue) -> Duration? {
        switch value {
        case let .integer(milliseconds):
            return milliseconds >= 0 && Double(milliseconds) <= longestMilliseconds ? .milliseconds(milliseconds) : nil
        case let .number(milliseconds):
            return duration(milliseconds: milliseconds)
        case let .string(text):
            return parse(text)
        default:
            return nil
        }
    }

    /// `"250ms"`, `"1.5s"`, `"2m"`, `"1h"` as a duration; nil for any other text or past 1e9 ms.
    package static func parse(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let value = Double(number) else { return nil }
            return duration(milliseconds: value * milliseconds)
        }
        return nil
    }

    /// `milliseconds` as a duration to the microsecond; nil for a negative, NaN, infinite or
    /// too large number (the check comes before the conversion to Int64, which would trap).
    private static func duration(milliseconds: Double) -> Duration? {
        guard milliseconds.isFinite, milliseconds >= 0, milliseconds <= longestMilliseconds else { return nil }
        return .microseconds(Int64((milliseconds * 1000).rounded()))
    }

    /// The shortest of `ms`, `s`, `m`, `h` that shows `duration` exactly (for messages).
    package static func format(_ duration: Duration) -> String {
        // Whole milliseconds, saturating: a message must not trap on a duration no file can give.
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        let milliseconds = overflow ? (seconds < 0 ? Int64.min : Int64.max) : scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000).partialValue
        for (suffix, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)] where milliseconds >= size && milliseconds % size == 0 {
            return "\(milliseconds / size)\(suffix)"
        }
        return "\(milliseconds)ms"
    }
}
