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

/// The loop's inbox (POSIX.LoopMailbox).
typealias UpstreamMailbox = LoopMailbox<UpstreamCommand>
