import MQTT
import POSIX
import Synchronization

/// Carries every upstream link on one reactor thread ("mqtt-upstream"); host names are resolved on
/// a helper thread ("mqtt-resolver") so the loop never blocks. Thread-safe.
package final class UpstreamLoop: Sendable {
    private let mailbox: UpstreamMailbox
    private let thread: DedicatedThread
    private let nextLink = Atomic<UInt64>(1)

    package init(logger: Logger) throws(MQTTError) {
        do {
            mailbox = try UpstreamMailbox()
        } catch {
            throw .connectionFailed("upstream loop: cannot create its wake-up eventfd: \(error)")
        }
        let core = try UpstreamLoopCore(mailbox: mailbox, logger: logger)
        do {
            thread = try DedicatedThread(name: "mqtt-upstream") { core.run() }
        } catch {
            core.resolver.stop()
            throw .connectionFailed("upstream loop: cannot start its thread: \(error)")
        }
    }

    /// Adds a link that connects at once and reconnects until removed.
    package func add(_ configuration: UpstreamLinkConfiguration, source: any UpstreamLinkSource) -> UpstreamLink {
        let id = nextLink.wrappingAdd(1, ordering: .relaxed).oldValue
        let link = UpstreamLink(id: id, mailbox: mailbox)
        // A loop that has stopped never runs it: the link stays down, as after `remove()`.
        _ = mailbox.send(.add(link, configuration, source))
        return link
    }

    /// Closes every link (DISCONNECT) and ends the thread; sources are not called again.
    package func stop() async {
        _ = mailbox.send(.stop)
        await mailbox.stopped()
        // The loop resumed us as its last step: detached rather than joined, so no pool thread waits.
        thread.detach()
    }
}

/// One upstream connection carried by an `UpstreamLoop`: its handle for the source's owner.
package final class UpstreamLink: Sendable {
    let id: UInt64
    private let mailbox: UpstreamMailbox
    private let counters = Mutex(UpstreamLinkStatistics())
    /// A wake is queued and not yet taken by the loop: more wakes until then add nothing (a bus
    /// posting a cycle's messages one by one wakes the loop once).
    private let wakeQueued = Atomic<Bool>(false)

    init(id: UInt64, mailbox: UpstreamMailbox) {
        self.id = id
        self.mailbox = mailbox
    }

    /// The source has new messages: the loop asks it (from any thread, never blocks).
    package func wake() {
        guard !wakeQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = mailbox.send(.wake(id))
    }

    /// Loop thread, as it takes a wake: the next `wake()` queues another.
    func wakeTaken() {
        wakeQueued.store(false, ordering: .releasing)
    }

    /// Sends DISCONNECT, closes, and forgets the link; returns once the loop has done so. The
    /// source is not called again (no `linkDown`).
    package func remove() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            if !mailbox.send(.remove(id, done: { done.resume() })) { done.resume() }
        }
    }

    /// Counters for monitoring/logs.
    package var statistics: UpstreamLinkStatistics { counters.withLock { $0 } }

    /// Loop thread: changes the counters.
    func update(_ change: (inout UpstreamLinkStatistics) -> Void) {
        counters.withLock { change(&$0) }
    }
}

/// What other threads ask of the upstream loop.
enum UpstreamCommand: Sendable {
    case add(UpstreamLink, UpstreamLinkConfiguration, any UpstreamLinkSource)
    case wake(UInt64)
    case remove(UInt64, done: @Sendable () -> Void)
    /// The resolver's answer for a link's host.
    case resolved(UInt64, Result<[String], AddressResolutionError>)
    case stop
}

/// The loop's inbox: commands queued under a lock, and an eventfd that wakes the loop.
final class UpstreamMailbox: Sendable {
    private struct State {
        var commands: [UpstreamCommand] = []
        var stopped = false
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let wakeup: Wakeup
    private let state = Mutex(State())

    init() throws(Errno) {
        wakeup = try Wakeup()
    }

    /// Queues a command; false if the loop has stopped (the command will never run).
    func send(_ command: UpstreamCommand) -> Bool {
        let (accepted, wasEmpty) = state.withLock { state -> (Bool, Bool) in
            guard !state.stopped else { return (false, false) }
            state.commands.append(command)
            return (true, state.commands.count == 1)
        }
        // The loop drains the wake-up before it takes the queue: only the first command wakes it.
        if accepted && wasEmpty { wakeup.signal() }
        return accepted
    }

    func take() -> [UpstreamCommand] {
        state.withLock { state in
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    /// Returns once the loop has ended (at once if it has).
    func stopped() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let hasStopped = state.withLock { state in
                if !state.stopped { state.stopWaiters.append(done) }
                return state.stopped
            }
            if hasStopped { done.resume() }
        }
    }

    /// Called by the loop as it ends: later sends fail, queued removals are answered, and those
    /// awaiting `stopped()` resume.
    func markStopped() {
        let (orphans, waiters) = state.withLock { state -> ([UpstreamCommand], [CheckedContinuation<Void, Never>]) in
            state.stopped = true
            defer {
                state.commands.removeAll()
                state.stopWaiters.removeAll()
            }
            return (state.commands, state.stopWaiters)
        }
        for case let .remove(_, done) in orphans { done() }
        for waiter in waiters { waiter.resume() }
    }
}
