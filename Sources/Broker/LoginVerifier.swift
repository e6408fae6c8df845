import POSIX

/// The thread that runs the policy's slow login checks (password hashes): a burst of logins
/// costs this thread's time, never the reactor's, so connected clients keep being served. Each
/// result goes back to the reactor through the mailbox, for the connection it belongs to.
///
/// One thread, in arrival order, at idle priority: on a small box the reactor and the buses
/// keep their cores, and a flood of wrong passwords delays only the logins queued behind it,
/// which the CONNECT timeout bounds.
final class LoginVerifier: Sendable {
    private struct Job {
        let token: UInt64
        let verify: @Sendable () -> Authentication
    }

    private struct State {
        var jobs: [Job] = []
        var next = 0
        var stopping = false
    }

    /// Logins waiting beyond this are refused at once (CONNACK 3, server unavailable): the
    /// queue of a flood stays bounded in memory and in the time it takes to drain.
    static let maximumQueued = 10_000

    private let state = ConditionLock(State())
    private let thread: DedicatedThread

    init(mailbox: Mailbox) throws(Errno) {
        let state = self.state
        thread = try DedicatedThread(name: "mqtt-login") {
            // Hashes yield to every other thread: a flood of logins on a small box takes the
            // idle CPU, never the reactor's or a bus thread's time.
            runCurrentThreadAtIdlePriority()
            while let job = state.wait(until: nil, { state -> Job?? in
                if state.stopping { return .some(nil) }
                guard state.next < state.jobs.count else { return nil }
                let job = state.jobs[state.next]
                state.next += 1
                if state.next > 1024 && state.next * 2 > state.jobs.count {
                    state.jobs.removeFirst(state.next)
                    state.next = 0
                }
                return .some(job)
            }) ?? nil {
                _ = mailbox.send(.verified(token: job.token, job.verify()))
            }
        }
    }

    /// Queues a check for the connection with epoll token `token`; false if the queue is full.
    func submit(token: UInt64, _ verify: @escaping @Sendable () -> Authentication) -> Bool {
        state.withLockAndSignal { state in
            guard state.jobs.count - state.next < Self.maximumQueued else { return false }
            state.jobs.append(Job(token: token, verify: verify))
            return true
        }
    }

    /// Ends the thread after the check it is running, dropping those queued (their connections
    /// are being closed). Detached, not joined: the reactor never waits for a hash; a result that
    /// comes after the reactor ended finds the mailbox closed and is dropped.
    func stop() {
        state.withLockAndSignal { $0.stopping = true }
        thread.detach()
    }
}
