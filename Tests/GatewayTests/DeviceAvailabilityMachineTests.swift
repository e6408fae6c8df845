import Testing
import GatewayCore

/// The availability machine alone: no bus, no clock but the instants the test passes in.
@Suite("A device's availability: answers and failures in, actions out")
struct DeviceAvailabilityMachineTests {
    typealias Machine = DeviceAvailabilityMachine
    let start = ContinuousClock.now

    /// A machine made offline by `failuresBeforeOffline` silent answers at `start`.
    func offlineMachine() -> Machine {
        var machine = Machine()
        _ = machine.answered()
        for _ in 0..<Machine.failuresBeforeOffline { _ = machine.failed("timeout", isLinkFailure: false, at: start) }
        return machine
    }

    @Test("The first answer finds the device: setup and desired state, no re-read of every group")
    func firstAnswer() {
        var machine = Machine()
        #expect(machine.state == .unknown)
        #expect(machine.answered() == [.resetReports, .cameOnline(afterOutage: false), .publishStateSoon, .runSetup, .reapplyDesired])
        #expect(machine.state == .online)
        // Further answers change nothing.
        #expect(machine.answered() == [])
    }

    @Test("Silent answers make it offline only at the third in a row; an answer in between starts the count again")
    func failuresInARow() {
        var machine = Machine()
        _ = machine.answered()
        #expect(machine.failed("timeout", isLinkFailure: false, at: start) == [])
        #expect(machine.failed("timeout", isLinkFailure: false, at: start) == [])
        #expect(machine.answered() == [])
        #expect(machine.consecutiveFailures == 0)
        #expect(machine.failed("timeout", isLinkFailure: false, at: start) == [])
        #expect(machine.failed("timeout", isLinkFailure: false, at: start) == [])
        #expect(machine.state == .online)
        #expect(machine.lastError == "timeout")
        let third = start + .milliseconds(250)
        #expect(machine.failed("bad CRC", isLinkFailure: false, at: third) == [.wentOffline, .probe(at: third + .seconds(1))])
        #expect(machine.state == .offline(nextProbe: third + .seconds(1), backoff: .seconds(1)))
        #expect(machine.lastError == "bad CRC")
    }

    @Test("A line failure makes it offline at once")
    func linkFailure() {
        var machine = Machine()
        _ = machine.answered()
        #expect(machine.failed("port gone", isLinkFailure: true, at: start) == [.wentOffline, .probe(at: start + .seconds(1))])
        #expect(machine.isOffline)
        // Failures while offline do not announce it again.
        #expect(machine.failed("port gone", isLinkFailure: true, at: start) == [])
    }

    @Test("Failed probes double the wait up to 30 s")
    func probeBackoff() {
        var machine = offlineMachine()
        var now = start + .seconds(1)
        var waits: [Duration] = []
        for _ in 0..<7 {
            let actions = machine.probeFailed("timeout", at: now)
            guard case let .probe(next)? = actions.first, actions.count == 1 else {
                Issue.record("a failed probe asks for one probe, got \(actions)")
                return
            }
            waits.append(now.duration(to: next))
            #expect(machine.nextProbe == next)
            now = next
        }
        #expect(waits == [2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
    }

    @Test("Back after an outage: every group is read again before state, setup and desired state are written again")
    func backOnline() {
        var machine = offlineMachine()
        _ = machine.probeFailed("timeout", at: start + .seconds(1))
        #expect(machine.answered() == [.resetReports, .readAllAgain, .cameOnline(afterOutage: true), .publishStateSoon, .runSetup, .reapplyDesired])
        #expect(machine.state == .online)
        #expect(machine.lastError == nil)
        #expect(machine.consecutiveFailures == 0)
        // The next outage starts at the first probe delay again, not at the backoff reached before.
        let later = start + .seconds(60)
        for _ in 0..<Machine.failuresBeforeOffline { _ = machine.failed("timeout", isLinkFailure: false, at: later) }
        #expect(machine.state == .offline(nextProbe: later + .seconds(1), backoff: .seconds(1)))
    }

    @Test("A probe result for a device that is not offline is ignored")
    func probeWhileOnline() {
        var machine = Machine()
        _ = machine.answered()
        #expect(machine.probeFailed("timeout", at: start) == [])
        #expect(machine.state == .online)
    }

    @Test("Retired: unknown with the reason, and found again (not back online) if it answers after a reload")
    func retire() {
        var machine = offlineMachine()
        machine.retire("gateway stopping")
        #expect(machine.state == .unknown)
        #expect(machine.lastError == "gateway stopping")
        #expect(machine.answered().contains(.cameOnline(afterOutage: false)))
    }
}
