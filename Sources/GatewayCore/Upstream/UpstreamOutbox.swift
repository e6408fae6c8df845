import MQTT
import MQTTClient
import POSIX
import Storage
import Synchronization

/// One upstream connection's store-and-forward side: bus threads post messages; on the upstream
/// loop's thread each is appended to the queue on disk (and written, so a `kill -9` keeps it)
/// before the link may send it, and leaves the queue on its PUBACK.
///
/// After a reconnect, messages queued since the link came up (live values) go first; the backlog
/// follows in its original order at most `replayRate` messages a second, each with its original
/// payload (and so its original `ts`). A retained message of the backlog keeps its RETAIN flag
/// only if it is the newest for its topic and no live one was sent: an old `state` replayed late
/// must not replace the current one on the broker.
///
/// The queue is used only on the loop's thread (the `UpstreamLinkSource` methods), or before the
/// link is added and after it is removed; `post` and `status` are for any thread.
package final class UpstreamOutbox: UpstreamLinkSource, @unchecked Sendable {
    /// The link's name in logs: the device id, or "shared".
    package let name: String
    private let posted = Mutex<[QueuedPublish]>([])
    private let statusBox = Mutex(UpstreamQueueStatus())
    private let link = Mutex<UpstreamLink?>(nil)
    private let logger: Logger
    private let onReceive: @Sendable (Publish) -> Void
    private let wallMilliseconds: @Sendable () -> Int64

    // The loop thread's.
    private let queue: MessageQueue
    private let syncer: QueueSyncer
    private let syncInterval: Duration
    private let replayRate: Int
    private var nextSync: ContinuousClock.Instant?
    private var nextHousekeeping: ContinuousClock.Instant?
    private var isUp = false
    /// The last sequence of the backlog: what was queued when the link came up.
    private var backlogEnd: UInt64 = 0
    /// The last backlog message handed to the link (nil: none since the link came up).
    private var backlogCursor: UInt64?
    private var backlogDone = true
    /// The last live message handed to the link.
    private var liveCursor: UInt64 = 0
    private var replayTokens = 0.0
    private var lastRefill: ContinuousClock.Instant?
    /// The newest retained message of each topic in the queue.
    private var newestRetained: [String: UInt64] = [:]
    /// Topics whose retained message went out live since the link came up.
    private var retainedSentLive: Set<String> = []
    /// Backlog messages read ahead of need and not yet handed out: one read of a page serves many
    /// pulls (each pull is only as large as the PUBACKs that freed room), instead of a read each.
    private var backlogAhead: ArraySlice<QueuedMessage> = []
    private static let backlogPage = 256
    /// The first backlog message handed out on this connection.
    private var backlogFirstSent: UInt64?
    /// What earlier connections of this process handed out (sorted, disjoint): one handed out
    /// again is a resend.
    private var sentEarlier: [ClosedRange<UInt64>] = []
    /// The oldest message's time, as last read: reading it may read a file, so it is refreshed by
    /// the once-a-second housekeeping (and when the queue empties or fills), not on every pull.
    private var oldestEnqueuedAt: Int64?
    private var acknowledgedThisSecond = (start: ContinuousClock.Instant?.none, count: 0)
    private var lastQueueLog: ContinuousClock.Instant?

    /// An outbox over the queue in `directory`, opened now (on the caller's thread).
    package init(name: String, directory: String, limits: MessageQueueLimits, replayRate: Int, syncInterval: Duration,
         syncer: QueueSyncer, logger: Logger, wallMilliseconds: @escaping @Sendable () -> Int64,
         onReceive: @escaping @Sendable (Publish) -> Void) throws(StorageError) {
        self.name = name
        self.logger = logger
        self.onReceive = onReceive
        self.wallMilliseconds = wallMilliseconds
        self.syncer = syncer
        self.syncInterval = syncInterval
        self.replayRate = replayRate
        queue = try MessageQueue.open(directory: directory, limits: limits)
        if queue.droppedBytesAtOpen > 0 {
            logger.log(.warning, "upstream_queue_torn_tail", ["link": name, "bytes_dropped": String(queue.droppedBytesAtOpen),
                                                             "note": "the end of the queue was cut short (a crash while writing)"])
        }
        try findNewestRetained()
        if queue.count > 0 {
            logger.log(.info, "upstream_queue_opened", ["link": name, "messages": String(queue.count), "bytes": String(queue.bytes)])
        }
        updateStatus()
    }

    /// The link that sends this outbox's messages; `post` wakes it.
    package func attach(_ link: UpstreamLink) {
        self.link.withLock { $0 = link }
    }

    /// Queues a message for upstream (any thread, never blocks): on disk at the loop's next turn.
    package func post(_ message: QueuedPublish) {
        posted.withLock { $0.append(message) }
        link.withLock { $0 }?.wake()
    }

    package var status: UpstreamQueueStatus { statusBox.withLock { $0 } }

    /// Whether a connected link still has messages to deliver (posted, or queued and not yet
    /// acknowledged): what a clean stop waits for.
    var hasUndeliveredWhileConnected: Bool {
        let status = self.status
        return status.connected && (status.depth > 0 || posted.withLock { !$0.isEmpty })
    }

    /// Writes what was posted and closes the queue; the link must be removed first.
    package func close() {
        absorbPosted()
        if let request = queue.syncRequest() { syncer.submit(request) }
        queue.close()
    }

    // MARK: - UpstreamLinkSource (the loop's thread)

    package func service(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        absorbPosted()
        if nextHousekeeping.map({ now >= $0 }) ?? true {
            nextHousekeeping = now.advanced(by: .seconds(1))
            if let drops = queue.expire(at: wallMilliseconds()) { report([drops]) }
            oldestEnqueuedAt = queue.oldestEnqueuedAt
            logQueue(at: now)
        }
        if nextSync.map({ now >= $0 }) ?? true {
            if let request = queue.syncRequest() { syncer.submit(request) }
            nextSync = now.advanced(by: syncInterval)
        }
        updateStatus()
        return min(nextSync ?? now, nextHousekeeping ?? now)
    }

    package func linkUp(sessionPresent: Bool, at now: ContinuousClock.Instant) {
        absorbPosted()
        rememberSent()
        isUp = true
        backlogEnd = queue.lastSequence
        liveCursor = backlogEnd
        backlogCursor = nil
        backlogFirstSent = nil
        backlogAhead = []
        backlogDone = queue.count == 0
        retainedSentLive = []
        replayTokens = 0
        lastRefill = now
        if queue.count > 0 {
            var fields = [("link", name), ("messages", String(queue.count))]
            if let age = status.oldestAgeSeconds(at: wallMilliseconds()) { fields.append(("oldest_age_s", String(age))) }
            fields.append(("replay_rate", replayRate == 0 ? "unlimited" : String(replayRate)))
            logger.log(.info, "upstream_backlog", fields)
        }
        statusBox.withLock { $0.connected = true }
        updateStatus()
    }

    package func linkDown(_ error: MQTTError, retryAt: ContinuousClock.Instant, at now: ContinuousClock.Instant) {
        isUp = false
        statusBox.withLock { $0.connected = false }
    }

    package func nextMessages(limit: Int, at now: ContinuousClock.Instant) -> (messages: [OutboundMessage], askAgainAt: ContinuousClock.Instant?) {
        absorbPosted()
        guard isUp, limit > 0 else { return ([], nil) }
        var messages: [OutboundMessage] = []
        // Live values first.
        for message in liveCursor < queue.lastSequence ? read(after: liveCursor, limit: limit) : [] {
            liveCursor = message.sequence
            if let outbound = outbound(message, live: true) { messages.append(outbound) }
        }
        var askAgainAt: ContinuousClock.Instant?
        let room = limit - messages.count
        if !backlogDone && room > 0 {
            refillTokens(at: now)
            let allowed = replayRate == 0 ? room : min(room, Int(replayTokens))
            if allowed > 0 {
                var taken = 0
                while taken < allowed {
                    if backlogAhead.isEmpty {
                        backlogAhead = read(after: backlogCursor, limit: max(allowed - taken, Self.backlogPage))
                            .prefix { $0.sequence <= backlogEnd }
                        if backlogAhead.isEmpty { break }
                    }
                    let message = backlogAhead.removeFirst()
                    backlogCursor = message.sequence
                    if backlogFirstSent == nil { backlogFirstSent = message.sequence }
                    taken += 1
                    if let outbound = outbound(message, live: false) { messages.append(outbound) }
                }
                if replayRate > 0 { replayTokens -= Double(taken) }
                if taken < allowed || backlogCursor.map({ $0 >= backlogEnd }) == true {
                    backlogDone = true
                    backlogAhead = []
                }
            }
            if !backlogDone && replayRate > 0 && replayTokens < 1 {
                let wait = Duration.nanoseconds(Int64((1 - replayTokens) / Double(replayRate) * 1e9) + 1)
                askAgainAt = now.advanced(by: wait)
            }
        }
        if !messages.isEmpty {
            statusBox.withLock { $0.sent += messages.count }
            updateStatus()
        }
        return (messages, askAgainAt)
    }

    package func acknowledged(_ token: UInt64, at now: ContinuousClock.Instant) {
        queue.acknowledge(token)
        if let start = acknowledgedThisSecond.start, start.duration(to: now) < .seconds(1) {
            acknowledgedThisSecond.count += 1
        } else {
            let rate = acknowledgedThisSecond.count
            acknowledgedThisSecond = (now, 1)
            statusBox.withLock { $0.drainRate = rate }
        }
        let depth = queue.count
        statusBox.withLock {
            $0.acknowledged += 1
            $0.depth = depth
        }
    }

    package func received(_ publish: Publish) {
        onReceive(publish)
    }

    package func subscriptionRefused(_ filter: String) {
        logger.log(.error, "upstream_subscription_refused", ["link": name, "filter": filter,
                                                             "note": "commands on this topic will not arrive; check the upstream broker's ACL"])
    }

    // MARK: - Helpers

    /// Moves what bus threads posted into the queue and writes it out (pwrite, no fsync).
    private func absorbPosted() {
        let batch = posted.withLock { $0 }
        guard !batch.isEmpty else { return }
        let now = wallMilliseconds()
        for message in batch {
            let sequence = queue.append(message.encoded, at: now)
            if message.retain { newestRetained[message.topic] = sequence }
        }
        // The depth counts them before they leave `posted`, so that a stop waiting for delivery
        // never sees them in neither place (only this thread removes from `posted`).
        let depth = queue.count
        statusBox.withLock { $0.depth = depth }
        posted.withLock { $0.removeFirst(batch.count) }
        do {
            try queue.flush()
        } catch {
            logger.log(.error, "upstream_queue_write_failed", ["link": name, "error": "\(error)",
                                                              "note": "kept in memory; written again at the next turn"])
        }
        report(queue.takeDrops())
    }

    private func report(_ drops: [QueueDrops]) {
        // Messages read ahead may be among those dropped: read them again from the queue.
        if drops.contains(where: { $0.count > 0 }) {
            backlogAhead = []
            oldestEnqueuedAt = nil
        }
        for drop in drops where drop.count > 0 {
            statusBox.withLock { $0.dropped += drop.count }
            logger.log(.warning, "upstream_queue_dropped", ["link": name, "messages": String(drop.count), "bytes": String(drop.bytes),
                                                           "reason": drop.reason, "note": "the oldest messages were dropped"])
        }
    }

    private func read(after sequence: UInt64?, limit: Int) -> [QueuedMessage] {
        do {
            return try queue.messages(after: sequence, limit: limit)
        } catch {
            logger.log(.error, "upstream_queue_read_failed", ["link": name, "error": "\(error)"])
            return []
        }
    }

    /// The PUBLISH for a queued message; nil (and acknowledged, so it leaves) if it does not decode.
    private func outbound(_ message: QueuedMessage, live: Bool) -> OutboundMessage? {
        guard let publish = QueuedPublish(decoding: message.payload) else {
            logger.log(.error, "upstream_queue_record_skipped", ["link": name, "sequence": String(message.sequence)])
            queue.acknowledge(message.sequence)
            return nil
        }
        var retain = publish.retain
        if retain {
            if live {
                retainedSentLive.insert(publish.topic)
            } else {
                retain = newestRetained[publish.topic] == message.sequence && !retainedSentLive.contains(publish.topic)
            }
        }
        if sentEarlier.contains(where: { $0.contains(message.sequence) }) { statusBox.withLock { $0.resent += 1 } }
        return OutboundMessage(token: message.sequence, topic: publish.topic, payload: publish.payload, qos: .atLeastOnce, retain: retain)
    }

    /// Adds what the last connection handed out to `sentEarlier`: its backlog from the first one
    /// sent, and its live messages (after the backlog's end).
    private func rememberSent() {
        if let first = backlogFirstSent, let last = backlogCursor, first <= last { insertSent(first...last) }
        if liveCursor > backlogEnd { insertSent((backlogEnd + 1)...liveCursor) }
    }

    private func insertSent(_ range: ClosedRange<UInt64>) {
        var merged = range
        sentEarlier.removeAll { existing in
            guard existing.lowerBound <= merged.upperBound &+ 1, merged.lowerBound <= existing.upperBound &+ 1 else { return false }
            merged = min(existing.lowerBound, merged.lowerBound)...max(existing.upperBound, merged.upperBound)
            return true
        }
        sentEarlier.insert(merged, at: sentEarlier.firstIndex { $0.lowerBound > merged.lowerBound } ?? sentEarlier.endIndex)
    }

    private func refillTokens(at now: ContinuousClock.Instant) {
        guard replayRate > 0 else { return }
        let elapsed = lastRefill.map { $0.duration(to: now) } ?? .zero
        lastRefill = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // At most one second's worth banked, so a pause does not turn into a burst.
        replayTokens = min(Double(replayRate), replayTokens + seconds * Double(replayRate))
    }

    /// The newest retained message of each topic, from what the queue holds at open.
    private func findNewestRetained() throws(StorageError) {
        var after: UInt64?
        while true {
            let page = try queue.messages(after: after, limit: 1000)
            guard let last = page.last else { return }
            for message in page {
                if let publish = QueuedPublish(decoding: message.payload), publish.retain {
                    newestRetained[publish.topic] = message.sequence
                }
            }
            after = last.sequence
        }
    }

    private func updateStatus() {
        if queue.count == 0 {
            oldestEnqueuedAt = nil
        } else if oldestEnqueuedAt == nil {
            oldestEnqueuedAt = queue.oldestEnqueuedAt
        }
        let (count, bytes, oldest) = (queue.count, queue.bytes, oldestEnqueuedAt)
        let backlog = backlogDone ? 0 : Int(backlogEnd - min(backlogEnd, backlogCursor ?? 0))
        statusBox.withLock {
            $0.depth = count
            $0.bytes = bytes
            $0.oldestEnqueuedAt = oldest
            $0.backlog = isUp ? min(backlog, count) : count
        }
    }

    /// Every 10 s while messages wait (an outage, or a backlog draining): depth, age, drops, rate.
    private func logQueue(at now: ContinuousClock.Instant) {
        guard queue.count > 0, !isUp || !backlogDone else { return }
        if let last = lastQueueLog, last.duration(to: now) < .seconds(10) { return }
        lastQueueLog = now
        let status = self.status
        var fields = [("link", name), ("connected", String(isUp)), ("messages", String(queue.count)), ("bytes", String(queue.bytes))]
        if let age = status.oldestAgeSeconds(at: wallMilliseconds()) { fields.append(("oldest_age_s", String(age))) }
        fields += [("dropped", String(status.dropped)), ("drain_rate", String(status.drainRate))]
        logger.log(.info, "upstream_queue", fields)
    }
}
