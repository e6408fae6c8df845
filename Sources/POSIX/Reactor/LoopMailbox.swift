import Synchronization

/// What other threads hand an event loop (the broker's reactor, the upstream loop): commands
/// queued under a lock, and an eventfd (`wakeup`, watched by the loop's epoll) that is signalled
/// only by the command that finds the queue empty: the loop drains the wake-up before it takes
/// the queue, so a later command is taken with that one. Once the loop has stopped, sends fail.
package final class LoopMailbox<Command: Sendable>: Sendable {
    private struct State {
        var commands: [Command] = []
        var stopped = false
        /// Callers of `stopped()`, resumed by the loop's thread as it ends.
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The loop's epoll watches this; it drains it before `take()`.
    package let wakeup: Wakeup
    private let state = Mutex(State())

    package init() throws(Errno) {
        wakeup = try Wakeup()
    }

    /// Queues a command; false if the loop has stopped (the command will never run).
    package func send(_ command: Command) -> Bool {
        let (accepted, wasEmpty) = state.withLock { state -> (Bool, Bool) in
            guard !state.stopped else { return (false, false) }
            state.commands.append(command)
            return (true, state.commands.count == 1)
        }
        if accepted && wasEmpty { wakeup.signal() }
        return accepted
    }

    /// Loop thread: every command queued so far, in order.
    package func take() -> [Command] {
        state.withLock { state in
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    /// Returns once the loop has ended (at once if it has), without holding a thread.
    package func stopped() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let hasStopped = state.withLock { state in
                if !state.stopped { state.stopWaiters.append(done) }
                return state.stopped
            }
            if hasStopped { done.resume() }
        }
    }

    /// Loop thread, as it ends: later sends fail, and those awaiting `stopped()` resume once
    /// `answer` has been given each command still queued (so that no caller waits for ever).
    package func markStopped(answeringOrphans answer: (Command) -> Void) {
        let (orphans, waiters) = state.withLock { state -> ([Command], [CheckedContinuation<Void, Never>]) in
            state.stopped = true
            defer {
                state.commands.removeAll()
                state.stopWaiters.removeAll()
            }
            return (state.commands, state.stopWaiters)
        }
        for command in orphans { answer(command) }
        for waiter in waiters { waiter.resume() }
    }
}
