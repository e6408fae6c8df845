import Glibc

/// Wall-clock times as published in payloads (`ts`).
package enum Timestamp {
    /// Now, as RFC 3339 UTC with milliseconds: `2026-11-21T09:30:00.250Z`.
    package static func now() -> String {
        var bytes: [UInt8] = []
        appendNow(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Milliseconds since 1970 (UTC) now: when a message was queued, for its age.
    package static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec / 1_000_000)
    }

    /// Appends `now()` to `bytes` (a telemetry document's `ts`, written at every poll).
    package static func appendNow(to bytes: inout [UInt8]) {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        append(seconds: Int(spec.tv_sec), milliseconds: Int(spec.tv_nsec / 1_000_000), to: &bytes)
    }

    /// `seconds` since 1970 (UTC) and `milliseconds` as RFC 3339.
    package static func rfc3339(seconds: Int, milliseconds: Int) -> String {
        var bytes: [UInt8] = []
        append(seconds: seconds, milliseconds: milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func append(seconds: Int, milliseconds: Int, to bytes: inout [UInt8]) {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func digits(_ value: Int32, _ width: Int, then separator: Unicode.Scalar) {
            appendDecimal(Int64(value), minimumWidth: width, to: &bytes)
            bytes.append(UInt8(ascii: separator))
        }
        bytes.reserveCapacity(bytes.count + 24)
        digits(parts.tm_year + 1900, 4, then: "-")
        digits(parts.tm_mon + 1, 2, then: "-")
        digits(parts.tm_mday, 2, then: "T")
        digits(parts.tm_hour, 2, then: ":")
        digits(parts.tm_min, 2, then: ":")
        digits(parts.tm_sec, 2, then: ".")
        digits(Int32(milliseconds), 3, then: "Z")
    }
}
