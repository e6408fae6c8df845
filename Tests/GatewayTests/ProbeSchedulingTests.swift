import Testing
import GatewayCore

/// Where a probe of an offline unit falls among the polls of its bus, decided from instants the
/// test chooses (no clock is read): a probe lasts its whole response timeout when the unit is
/// dead, so it starts only in a gap that long before the next due poll, or once it has waited
/// as long as its backoff for one.
@Suite("Probes go into the gaps between polls")
struct ProbeSchedulingTests {
    let now = ContinuousClock.now
    /// The response timeout a dead unit's probe waits out, plus the silence before it.
    let length = Duration.milliseconds(150)

    func probe(due: Duration, waitingAtMost backoff: Duration = .seconds(1)) -> PollGrid.Need {
        PollGrid.Need(kind: .probe(longestWait: backoff), due: now + due)
    }

    func poll(due: Duration) -> PollGrid.Need {
        PollGrid.Need(kind: .poll, due: now + due)
    }

    @Test("A due probe is not started when a poll is due before it would end: the poll goes first, at its time")
    func probeWaitsForAPollDueWithinItsTimeout() throws {
        let next = try #require(PollGrid.next(of: [poll(due: .milliseconds(100)), probe(due: .milliseconds(-10))], now: now, probeLength: length))
        #expect(next.index == 0)
        #expect(next.start == now + .milliseconds(100))
        // The same with the probe's device listed first.
        let reversed = try #require(PollGrid.next(of: [probe(due: .milliseconds(-10)), poll(due: .milliseconds(100))], now: now, probeLength: length))
        #expect(reversed.index == 1)
        // A poll due exactly when the probe would end leaves it room.
        let exact = try #require(PollGrid.next(of: [poll(due: .milliseconds(150)), probe(due: .zero)], now: now, probeLength: length))
        #expect(exact.index == 1)
    }

    @Test("A probe that ends before the next due poll starts when it is due")
    func probeFitsInAGap() throws {
        let atOnce = try #require(PollGrid.next(of: [poll(due: .milliseconds(400)), probe(due: .milliseconds(-10))], now: now, probeLength: length))
        #expect(atOnce.index == 1)
        #expect(atOnce.start == now - .milliseconds(10))
        let later = try #require(PollGrid.next(of: [poll(due: .milliseconds(400)), probe(due: .milliseconds(200))], now: now, probeLength: length))
        #expect(later.index == 1)
        #expect(later.start == now + .milliseconds(200))
        // A probe due so late that it would overlap the poll waits for the poll.
        let overlapping = try #require(PollGrid.next(of: [poll(due: .milliseconds(400)), probe(due: .milliseconds(300))], now: now, probeLength: length))
        #expect(overlapping.index == 0)
    }

    @Test("On a bus without a gap, a probe runs once it has waited its backoff: never starved")
    func probeIsNotStarved() throws {
        // Waited 900 ms of its 1 s: the poll due at once still goes first.
        let waiting = try #require(PollGrid.next(of: [poll(due: .zero), probe(due: .milliseconds(-900))], now: now, probeLength: length))
        #expect(waiting.index == 0)
        // Waited its 1 s: it starts now, ahead of the poll due in 50 ms.
        let due = try #require(PollGrid.next(of: [poll(due: .milliseconds(50)), probe(due: .seconds(-1))], now: now, probeLength: length))
        #expect(due.index == 1)
        #expect(due.start <= now)
        // A longer backoff is a longer wait.
        let patient = try #require(PollGrid.next(of: [poll(due: .milliseconds(50)), probe(due: .seconds(-1), waitingAtMost: .seconds(4))], now: now, probeLength: length))
        #expect(patient.index == 0)
    }

    @Test("Polls go in the order they are due; a bus with only probes probes when due")
    func pollsAndLoneProbes() throws {
        let polls = try #require(PollGrid.next(of: [poll(due: .milliseconds(30)), poll(due: .milliseconds(10)), poll(due: .milliseconds(20))], now: now, probeLength: length))
        #expect(polls.index == 1)
        #expect(polls.start == now + .milliseconds(10))
        let probes = try #require(PollGrid.next(of: [probe(due: .milliseconds(500)), probe(due: .milliseconds(200))], now: now, probeLength: length))
        #expect(probes.index == 1)
        #expect(probes.start == now + .milliseconds(200))
        #expect(PollGrid.next(of: [], now: now, probeLength: length).map(\.index) == nil)
    }
}
