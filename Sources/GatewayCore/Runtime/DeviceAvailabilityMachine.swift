/// Whether a device answers.
package enum DeviceAvailability: Equatable, Sendable {
    /// Not heard from yet since start (or since a reload).
    case unknown
    case online
    /// Stopped answering; probed at `nextProbe`, the wait doubling after each failed probe.
    case offline(nextProbe: ContinuousClock.Instant, backoff: Duration)
}

/// A device's availability as a state machine: answers and failures in, with the instant the
/// caller read from its clock; what the bus poller must do out, as values a test can compare.
/// It never reads a clock, performs I/O or logs, so it is tested with time moved by the test.
package struct DeviceAvailabilityMachine: Sendable {
    /// What the poller does when availability changes, in the order given.
    package enum Action: Equatable, Sendable {
        /// The device answered for the first time (`afterOutage` false) or after being offline.
        case cameOnline(afterOutage: Bool)
        /// Every point is reported at its next read again (a fresh start for the report filters).
        case resetReports
        /// Back from an outage: every poll group is due now, and `state` waits for their first read
        /// so that it never says online with the values from before the device went away.
        case readAllAgain
        /// `state` goes out after the current poll, not after the usual interval.
        case publishStateSoon
        /// Write the profile's setup registers.
        case runSetup
        /// Write the desired state from `config` again (if there is one).
        case reapplyDesired
        /// Enough failures: the device is offline; `state` goes out now, with the failure as its error.
        case wentOffline
        /// Nothing to do until a probe at this instant.
        case probe(at: ContinuousClock.Instant)
    }

    /// Consecutive transactions without an answer that make a device offline.
    package static let failuresBeforeOffline = 3
    package static let firstProbeDelay = Duration.seconds(1)
    package static let longestProbeDelay = Duration.seconds(30)

    package private(set) var state = DeviceAvailability.unknown
    package private(set) var consecutiveFailures = 0
    /// The last failure's description, until the device answers again (or the reason it was retired).
    package private(set) var lastError: String?

    package init() {}

    package var isOffline: Bool {
        if case .offline = state { return true }
        return false
    }

    /// The next probe's instant while offline.
    package var nextProbe: ContinuousClock.Instant? {
        if case let .offline(nextProbe, _) = state { return nextProbe }
        return nil
    }

    /// The device answered a request (an exception is an answer too).
    package mutating func answered() -> [Action] {
        consecutiveFailures = 0
        guard state != .online else { return [] }
        let afterOutage = isOffline
        state = .online
        lastError = nil
        var actions: [Action] = [.resetReports]
        if afterOutage { actions.append(.readAllAgain) }
        actions += [.cameOnline(afterOutage: afterOutage), .publishStateSoon, .runSetup, .reapplyDesired]
        return actions
    }

    /// A transaction got no valid answer. A line failure (the port itself is gone) makes the device
    /// offline at once; a silent or garbled answer only after `failuresBeforeOffline` in a row.
    package mutating func failed(_ reason: String, isLinkFailure: Bool, at now: ContinuousClock.Instant) -> [Action] {
        consecutiveFailures += 1
        lastError = reason
        guard !isOffline, consecutiveFailures >= Self.failuresBeforeOffline || isLinkFailure else { return [] }
        let next = now + Self.firstProbeDelay
        state = .offline(nextProbe: next, backoff: Self.firstProbeDelay)
        return [.wentOffline, .probe(at: next)]
    }

    /// A probe of an offline device got no answer: the next waits twice as long, up to
    /// `longestProbeDelay`, so that a dead unit costs the bus less and less.
    package mutating func probeFailed(_ reason: String, at now: ContinuousClock.Instant) -> [Action] {
        guard case let .offline(_, backoff) = state else { return [] }
        let wait = min(backoff * 2, Self.longestProbeDelay)
        state = .offline(nextProbe: now + wait, backoff: wait)
        lastError = reason
        return [.probe(at: now + wait)]
    }

    /// The device is no longer served (removed, or the gateway stops): unknown, with `reason`.
    package mutating func retire(_ reason: String) {
        state = .unknown
        lastError = reason
    }
}
