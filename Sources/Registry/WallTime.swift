import Glibc

/// A wall-clock instant: Unix seconds and nanoseconds, UTC. Monitoring times are wall-clock
/// times (RFC 3339), unlike the broker's monotonic `ContinuousClock`.
package struct WallTime: Sendable, Hashable, Comparable {
    package var seconds: Int64
    package var nanoseconds: Int32

    package init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The system's real-time clock.
    package static func now() -> WallTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallTime(seconds: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec))
    }

    package static func < (left: WallTime, right: WallTime) -> Bool {
        (left.seconds, left.nanoseconds) < (right.seconds, right.nanoseconds)
    }

    /// RFC 3339 UTC with milliseconds: `2026-12-06T23:41:07.123Z`.
    package var rfc3339: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = ""
        text.reserveCapacity(24)
        func append(_ value: Int32, width: Int, then separator: String) {
            let digits = String(value)
            text += String(repeating: "0", count: max(0, width - digits.count)) + digits + separator
        }
        append(parts.tm_year + 1900, width: 4, then: "-")
        append(parts.tm_mon + 1, width: 2, then: "-")
        append(parts.tm_mday, width: 2, then: "T")
        append(parts.tm_hour, width: 2, then: ":")
        append(parts.tm_min, width: 2, then: ":")
        append(parts.tm_sec, width: 2, then: ".")
        append(max(0, nanoseconds) / 1_000_000, width: 3, then: "Z")
        return text
    }
}

/// Where the registry policy reads wall-clock time (injected in tests).
package typealias WallClock = @Sendable () -> WallTime
