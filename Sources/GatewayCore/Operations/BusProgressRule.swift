import POSIX

/// The health rule of `/healthz` and the service watchdog: every running bus thread has made
/// progress (a turn of its loop, a transaction: `BusStatus.lastProgress`) within its limit. It
/// asks whether the thread is stuck, not whether devices answer: a bus whose devices are all
/// offline, or whose line is closed and being reopened, still turns and is healthy.
/// A value with the instant passed in, so tests need neither threads nor waiting.
package struct BusProgressRule: Sendable, Equatable {
    /// The smallest limit: below it a loaded two-core box's scheduling hiccups would count.
    package static let minimumLimit = Duration.seconds(10)

    /// How long a bus thread may go without progress. The longest it legitimately holds still is
    /// one transaction (the response timeout, plus the drain of a late answer before the next
    /// request, bounded by the same timeout) or opening the line (a TCP connect, bounded by it too);
    /// idle, it wakes every second. Three response timeouts cover that with room to spare, and
    /// never less than `minimumLimit`.
    package static func limit(responseTimeout: Duration) -> Duration {
        max(minimumLimit, responseTimeout * 3)
    }

    /// One bus as the rule sees it.
    package struct Bus: Sendable, Equatable {
        package var id: String
        package var lastProgress: ContinuousClock.Instant
        package var limit: Duration

        package init(id: String, lastProgress: ContinuousClock.Instant, limit: Duration) {
            self.id = id
            self.lastProgress = lastProgress
            self.limit = limit
        }
    }

    /// A bus that made no progress within its limit.
    package struct Stall: Sendable, Equatable {
        package var bus: String
        /// Since its last progress.
        package var since: Duration
        package var limit: Duration
    }

    package var buses: [Bus]

    package init(buses: [Bus]) {
        self.buses = buses
    }

    /// The buses stuck at `now`, in bus id order; empty when all are healthy.
    package func stalls(at now: ContinuousClock.Instant) -> [Stall] {
        var stalls: [Stall] = []
        for bus in buses {
            let since = bus.lastProgress.duration(to: now)
            if since > bus.limit { stalls.append(Stall(bus: bus.id, since: since, limit: bus.limit)) }
        }
        return stalls.sorted { $0.bus < $1.bus }
    }

    /// What `/healthz` and the watchdog say of the stalls: `bus line: no progress for 12.3 s
    /// (limit 10 s)`, one a line; nil when there is none.
    package static func describe(_ stalls: [Stall]) -> String? {
        guard !stalls.isEmpty else { return nil }
        return stalls.map { "bus \($0.bus): no progress for \(tenths($0.since)) s (limit \(tenths($0.limit)) s)" }
            .joined(separator: "\n")
    }

    /// Seconds with one decimal, without Foundation's formatting: 12.3, 10.
    private static func tenths(_ duration: Duration) -> String {
        let tenths = duration.milliseconds / 100
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(tenths % 10)"
    }
}
