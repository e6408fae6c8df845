import Glibc
import Testing
import GatewayCore

@Suite("Poll cycles on the interval grid of the wall clock")
struct PollGridTests {
    let interval = Duration.milliseconds(100)

    /// A grid instant of `interval` some cycles from now.
    func gridInstant() -> ContinuousClock.Instant {
        PollGrid.nextCycle(due: .now, end: .now, interval: interval) + interval * 10
    }

    @Test("A cycle that ends early, late in its interval or several intervals late goes to the next grid instant")
    func nextCycle() {
        let grid = gridInstant()
        #expect(PollGrid.nextCycle(due: grid, end: grid + .milliseconds(3), interval: interval) == grid + interval)
        #expect(PollGrid.nextCycle(due: grid, end: grid + .milliseconds(70), interval: interval) == grid + interval)
        // Late: the missed cycles are skipped, not caught up in a burst.
        #expect(PollGrid.nextCycle(due: grid, end: grid + .milliseconds(230), interval: interval) == grid + interval * 3)
        // Ending exactly on a grid instant: the next one.
        #expect(PollGrid.nextCycle(due: grid, end: grid + interval, interval: interval) == grid + interval * 2)
    }

    @Test("The first cycle, off the grid, is followed by the first grid instant at least half an interval later")
    func firstCycle() {
        let grid = gridInstant()
        let firstDue = grid - .milliseconds(10)  // 10 ms before a grid instant
        #expect(PollGrid.nextCycle(due: firstDue, end: firstDue + .milliseconds(2), interval: interval) == grid + interval)
        let earlyDue = grid - .milliseconds(80)  // 80 ms before: the grid instant 80 ms later is far enough
        #expect(PollGrid.nextCycle(due: earlyDue, end: earlyDue + .milliseconds(2), interval: interval) == grid)
    }

    @Test("Grid instants are whole multiples of the interval on the wall clock")
    func wallClockPhase() {
        for interval in [Duration.milliseconds(100), .milliseconds(250), .seconds(1), .seconds(60)] {
            let next = PollGrid.nextCycle(due: .now, end: .now, interval: interval)
            // The wall clock and the continuous clock read as a pair: retried until no more than
            // 50 µs passed between the two continuous readings around the wall reading.
            var wall = timespec()
            var (before, after) = (ContinuousClock.now, ContinuousClock.now)
            for _ in 0..<1000 {
                before = .now
                clock_gettime(CLOCK_REALTIME, &wall)
                after = .now
                if before.duration(to: after) < .microseconds(50) { break }
            }
            let untilNext = before.duration(to: next)
            let wallNanoseconds = Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec)
            let (seconds, attoseconds) = (untilNext + .nanoseconds(wallNanoseconds)).components
            let atNext = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            let step = Int64(interval.components.seconds) * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
            // Within 1 ms of a multiple: the pair's 50 µs and what NTP slews the wall clock by
            // since the grid was taken.
            let offGrid = min(atNext % step, step - atNext % step)
            #expect(offGrid < 1_000_000, "\(interval): \(offGrid) ns off the grid")
        }
    }
}
