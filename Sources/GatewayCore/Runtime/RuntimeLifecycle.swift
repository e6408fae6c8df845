/// The gateway runtime's lifecycle as a value: which of start's, reload's and stop's steps may
/// run now. `GatewayRuntime` is an actor, and an actor's async methods interleave at every
/// `await`: without this a SIGHUP during a stop could start buses on a stopped broker, and two
/// quick SIGHUPs could run two reloads over each other.
package struct RuntimeLifecycle: Equatable, Sendable {
    package enum Phase: Equatable, Sendable {
        case running
        case reloading
        case stopping
        case stopped
    }

    /// What a reload asked for now should do.
    package enum ReloadDecision: Equatable, Sendable {
        /// Reload now.
        case proceed
        /// A reload is under way: this one runs once it ends (several asked meanwhile make one),
        /// so the file as it is then is what runs.
        case deferred
        /// The gateway is stopping or stopped: nothing is started any more.
        case refused
    }

    /// What a stop asked for now should do.
    package enum StopDecision: Equatable, Sendable {
        /// Stop now.
        case proceed
        /// Another stop is under way or done: nothing more to do.
        case alreadyStopping
    }

    package private(set) var phase = Phase.running
    /// A reload was asked for while one ran.
    package private(set) var reloadPending = false

    package init() {}

    package mutating func beginReload() -> ReloadDecision {
        switch phase {
        case .running:
            phase = .reloading
            return .proceed
        case .reloading:
            reloadPending = true
            return .deferred
        case .stopping, .stopped:
            return .refused
        }
    }

    /// The reload's steps are done (or abandoned); true if a reload asked meanwhile runs now
    /// (the phase stays `reloading` for it).
    package mutating func endReload() -> Bool {
        guard phase == .reloading else {
            reloadPending = false  // a stop came meanwhile: nothing runs after it
            return false
        }
        if reloadPending {
            reloadPending = false
            return true
        }
        phase = .running
        return false
    }

    /// True while a reload may go on starting things: not once a stop has begun.
    package var mayStart: Bool { phase == .running || phase == .reloading }

    package mutating func beginStop() -> StopDecision {
        switch phase {
        case .running, .reloading:
            phase = .stopping
            return .proceed
        case .stopping, .stopped:
            return .alreadyStopping
        }
    }

    package mutating func endStop() {
        phase = .stopped
    }
}
