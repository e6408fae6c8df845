import Glibc

/// Where poll cycles fall, and the probes of offline units between them. Poll cycles fall on
/// multiples of their interval on the wall clock (a 1 s group at every whole second, a 100 ms
/// group at .000, .100, …), as Telegraf's `round_interval` does. Devices
/// with the same interval are read together, so their timestamps line up across a plant and their
/// documents reach the broker in one burst instead of one wake-up each.
package enum PollGrid {
    /// The ContinuousClock instant at which the wall clock read 1970-01-01T00:00:00Z, taken once:
    /// the grid is exact on the continuous clock, and stays where it is if the wall clock is
    /// stepped later (NTP on a box without a real-time clock): cycles keep their cadence, their
    /// `ts` are then off the whole multiples until the gateway restarts.
    static let epoch: ContinuousClock.Instant = {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        return ContinuousClock.now - (.seconds(wall.tv_sec) + .nanoseconds(wall.tv_nsec))
    }()

    /// The cycle after one that was due at `due` and ended at `end`: the first grid instant of
    /// `interval` after `end` (a late cycle skips the ones it missed, no burst), and at least half an
    /// interval after `due` (the first cycle, off the grid, is not followed by another straight away).
    package static func nextCycle(due: ContinuousClock.Instant, end: ContinuousClock.Instant, interval: Duration) -> ContinuousClock.Instant {
        let step = nanoseconds(interval)
        guard step > 0 else { return end }
        let earliest = max(end, due + interval / 2)
        return epoch + .nanoseconds((nanoseconds(epoch.duration(to: earliest)) / step + 1) * step)
    }

    /// What one device next needs of its bus, and from when.
    package struct Need: Equatable {
        package enum Kind: Equatable {
            case poll
            /// A probe of an offline unit, which waits for a gap in the polls at most `longestWait`.
            case probe(longestWait: Duration)
        }

        package var kind: Kind
        package var due: ContinuousClock.Instant

        package init(kind: Kind, due: ContinuousClock.Instant) {
            self.kind = kind
            self.due = due
        }
    }

    /// Which of `needs` (one per device) the bus serves next, and the instant it may start: the
    /// one that may start earliest. A poll may start when due. A probe of a dead unit holds the
    /// bus for `probeLength` (its response timeout), so it starts only in a gap: when it ends by
    /// the next due poll of any device. Where no such gap comes (polls back to back), it starts
    /// anyway once it has waited `longestWait` past its due time (the unit's backoff, at most
    /// 30 s): a unit that came back is found within twice its backoff, and a neighbour is delayed
    /// by a probe at most once per that wait instead of at every probe.
    package static func next(of needs: [Need], now: ContinuousClock.Instant, probeLength: Duration) -> (index: Int, start: ContinuousClock.Instant)? {
        let nextPoll = needs.filter { $0.kind == .poll }.map(\.due).min()
        var best: (index: Int, start: ContinuousClock.Instant)?
        for (index, need) in needs.enumerated() {
            var start = need.due
            if case let .probe(longestWait) = need.kind, let nextPoll, max(need.due, now) + probeLength > nextPoll {
                start = need.due + longestWait
            }
            if best.map({ start < $0.start }) ?? true { best = (index, start) }
        }
        return best
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
