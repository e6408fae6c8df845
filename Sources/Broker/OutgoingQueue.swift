import MQTT

/// A session's QoS 1 and 2 messages to its client, in order: those in flight (sent, waiting for
/// PUBACK, PUBREC or PUBCOMP) and those queued behind the inflight window. Each message gets
/// its packet identifier when it is queued, so a stored session can be resent exactly.
struct OutgoingQueue {
    enum Stage: Equatable {
        /// Not sent yet (or sent before a restart; `duplicate` says so).
        case queued
        /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
        case published
        /// PUBREL sent; waiting for PUBCOMP (QoS 2).
        case released
    }

    struct Entry {
        let sequence: UInt64
        let message: BrokerMessage
        let qos: QoS
        /// RETAIN on delivery: set for a retained message sent because of a new subscription.
        let retain: Bool
        var stage: Stage
        /// Set when the client may have seen it before: the next PUBLISH carries DUP.
        var duplicate: Bool
    }

    private(set) var entries: [UInt16: Entry] = [:]
    /// Identifiers in queue order with the sequence they were given; stale pairs (acknowledged,
    /// or an identifier reused later) are skipped and dropped lazily.
    private var order: [(identifier: UInt16, sequence: UInt64)] = []
    private var head = 0
    /// Index in `order` from which unsent entries may start.
    private var sendCursor = 0
    private var nextSequence: UInt64 = 0
    private var nextIdentifier: UInt16 = 1
    /// Entries sent and not complete.
    private(set) var inflightCount = 0

    var count: Int { entries.count }
    var queuedCount: Int { entries.count - inflightCount }

    /// Adds a message; returns its packet identifier.
    mutating func enqueue(_ message: BrokerMessage, qos: QoS, retain: Bool, identifier wanted: UInt16? = nil,
                          stage: Stage = .queued, duplicate: Bool = false) -> UInt16? {
        guard entries.count < 65_535 else { return nil }
        let identifier: UInt16
        if let wanted, wanted != 0, entries[wanted] == nil {
            identifier = wanted
        } else {
            // An empty queue holds no identifier: no lookup needed (the usual case for 1→1 flows).
            while nextIdentifier == 0 || (!entries.isEmpty && entries[nextIdentifier] != nil) { nextIdentifier &+= 1 }
            identifier = nextIdentifier
            nextIdentifier &+= 1
        }
        entries[identifier] = Entry(sequence: nextSequence, message: message, qos: qos, retain: retain, stage: stage, duplicate: duplicate)
        order.append((identifier, nextSequence))
        nextSequence += 1
        if stage != .queued { inflightCount += 1 }
        return identifier
    }

    /// The oldest queued entry, marked as published; nil if none is waiting.
    mutating func publishNext() -> (UInt16, Entry)? {
        while sendCursor < order.count {
            let (identifier, sequence) = order[sendCursor]
            sendCursor += 1
            // One hash lookup; the entry is updated in place through its index.
            guard let index = entries.index(forKey: identifier), entries.values[index].sequence == sequence,
                  entries.values[index].stage == .queued else { continue }
            entries.values[index].stage = .published
            inflightCount += 1
            return (identifier, entries.values[index])
        }
        return nil
    }

    /// Entries in flight, oldest first, for resending after a reconnect; each marked duplicate.
    mutating func inflightForResend() -> [(UInt16, Entry)] {
        var result: [(UInt16, Entry)] = []
        for index in head..<order.count {
            let (identifier, sequence) = order[index]
            guard var entry = entries[identifier], entry.sequence == sequence, entry.stage != .queued else { continue }
            entry.duplicate = true
            entries[identifier] = entry
            result.append((identifier, entry))
        }
        return result
    }

    /// Moves a QoS 2 entry from published to released (PUBREC). Returns false if unknown.
    mutating func release(_ identifier: UInt16) -> Bool {
        guard var entry = entries[identifier], entry.qos == .exactlyOnce, entry.stage != .queued else { return false }
        entry.stage = .released
        entries[identifier] = entry
        return true
    }

    /// Removes an entry whose flow ended (PUBACK, PUBCOMP); returns it if it was in flight.
    @discardableResult
    mutating func complete(_ identifier: UInt16, expecting qos: QoS) -> Entry? {
        guard let index = entries.index(forKey: identifier) else { return nil }
        let entry = entries.values[index]
        guard entry.qos == qos, entry.stage != .queued else { return nil }
        if qos == .exactlyOnce && entry.stage != .released { return nil }
        entries.remove(at: index)
        inflightCount -= 1
        compact()
        return entry
    }

    /// Every live entry in order (for a storage snapshot).
    var allInOrder: [(UInt16, Entry)] {
        order[head...].compactMap { pair in
            guard let entry = entries[pair.identifier], entry.sequence == pair.sequence else { return nil }
            return (pair.identifier, entry)
        }
    }

    /// Drops stale pairs so `order` does not grow without bound: those at the front as they go,
    /// and, once they are most of it, those behind an entry that stays unacknowledged.
    private mutating func compact() {
        if entries.isEmpty {
            // Every pair is stale: start over, so a steady flow keeps reusing the first slots.
            order.removeAll(keepingCapacity: true)
            head = 0
            sendCursor = 0
            return
        }
        while head < order.count {
            let (identifier, sequence) = order[head]
            if let entry = entries[identifier], entry.sequence == sequence { break }
            head += 1
        }
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            sendCursor = max(0, sendCursor - head)
            head = 0
        }
        if sendCursor < head { sendCursor = head }
        if order.count - head > 2 * entries.count + 1024 { dropStalePairs() }
    }

    private mutating func dropStalePairs() {
        var live: [(identifier: UInt16, sequence: UInt64)] = []
        live.reserveCapacity(entries.count)
        var cursor = 0
        for index in head..<order.count {
            let (identifier, sequence) = order[index]
            guard let entry = entries[identifier], entry.sequence == sequence else { continue }
            if index < sendCursor { cursor += 1 }
            live.append((identifier, sequence))
        }
        order = live
        head = 0
        sendCursor = cursor
    }
}
