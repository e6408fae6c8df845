// A store-and-forward FIFO on disk: the upstream outbox's queue. Segment files of framed records
// (format: QueueSegment.swift) hold messages and acknowledgements; memory holds per segment only
// its sequence range, sizes and acknowledged ranges, and payloads are read back with pread.
//
// append, acknowledge and expire only change memory and buffers; flush writes with pwrite (then
// a kill -9 loses nothing) and creates and unlinks files; fsync is the QueueSyncer's, through
// syncRequest, so the thread that owns the queue never waits for the disk.

import Glibc
import POSIX

/// Bounds and tuning of a MessageQueue.
package struct MessageQueueLimits: Sendable, Equatable {
    package var maximumBytes: Int          // total file bytes of live segments; oldest dropped past it
    package var maximumAge: Duration?      // messages older than this are dropped (nil: no age bound)
    package var segmentBytes: Int          // a segment is closed (a new file started) past this size

    package init(maximumBytes: Int = 64 << 20, maximumAge: Duration? = .seconds(7 * 86_400), segmentBytes: Int = 4 << 20) {
        self.maximumBytes = maximumBytes
        self.maximumAge = maximumAge
        self.segmentBytes = segmentBytes
    }
}

/// One unacknowledged message read back from a queue.
package struct QueuedMessage: Sendable, Equatable {
    package let sequence: UInt64        // assigned by append: 1, 2, 3 ... never reused, survives restarts
    package let enqueuedAt: Int64       // wall-clock milliseconds since 1970 given to append
    package let payload: [UInt8]        // opaque to Storage

    /// A message as the queue read it back.
    package init(sequence: UInt64, enqueuedAt: Int64, payload: [UInt8]) {
        self.sequence = sequence
        self.enqueuedAt = enqueuedAt
        self.payload = payload
    }
}

/// What happened when limits were enforced: messages dropped unacknowledged and the bytes they
/// took on disk ("maxBytes": the dropped segment files' sizes; "maxAge": the dropped records').
package struct QueueDrops: Sendable, Equatable {
    package var count: Int
    package var bytes: Int
    package var reason: String // "maxBytes" | "maxAge"

    /// Drops of one reason.
    package init(count: Int, bytes: Int, reason: String) {
        self.count = count
        self.bytes = bytes
        self.reason = reason
    }
}

/// A store-and-forward FIFO in a folder of segment files; thread-confined (one owner thread).
/// One queue per folder: a second open of a folder in use fails with operation "lock".
package final class MessageQueue {
    /// Where a read of a segment stopped, so the next page goes on from there.
    struct ReadCursor {
        let segment: UInt64
        let offset: Int
        let nextSequence: UInt64
    }

    static let cursorLimit = 4
    /// Read descriptors kept open besides the write segment's and those still to sync.
    static let idleDescriptorLimit = 2

    /// The queue's folder.
    package let directory: String
    let limits: MessageQueueLimits
    /// The size past which a segment is closed: at most an eighth of maximumBytes, so the byte
    /// bound drops a small part of the queue at a time.
    let segmentLimit: Int
    /// Held open for the lock and for fsyncs of the folder after files are created or unlinked.
    var directoryDescriptor: Int32
    /// Live segments, oldest first; the write segment, if any, is the last.
    var segments: [QueueSegment] = []
    var writeSegment: QueueSegment?
    /// Acknowledgements not yet encoded into the write segment (done at flush).
    var pendingAcknowledgements = SequenceRanges()
    /// Segments gone from the queue whose files the next flush closes and unlinks.
    var pendingRemovals: [QueueSegment] = []
    var directoryNeedsSync = false
    var cursors: [ReadCursor] = []
    var drops: [QueueDrops] = []
    var useCounter = 0
    var oldestCache: (sequence: UInt64, enqueuedAt: Int64)?
    var isClosed = false
    var totalBytes = 0

    /// Unacknowledged messages.
    package internal(set) var count = 0
    /// Highest sequence ever appended (0 if none).
    package internal(set) var lastSequence: UInt64 = 0
    /// Bytes of segment files that did not replay at open (torn or corrupt records, foreign files).
    package internal(set) var droppedBytesAtOpen = 0

    init(directory: String, limits: MessageQueueLimits, directoryDescriptor: Int32) {
        self.directory = directory
        self.limits = limits
        self.directoryDescriptor = directoryDescriptor
        segmentLimit = max(1, min(limits.segmentBytes, limits.maximumBytes / 8))
    }

    deinit { close() }

    /// Bytes of live segment files (+ buffered).
    package var bytes: Int { totalBytes }

    /// Buffers a message (no syscall); returns its sequence; may drop oldest messages to keep maximumBytes.
    package func append(_ payload: [UInt8], at wallMilliseconds: Int64) -> UInt64 {
        let recordBytes = payload.count + QueueSegment.messageOverhead
        let rolls = needsNewSegment(for: recordBytes)
        enforceByteBound(adding: recordBytes + (rolls ? QueueSegment.headerBytes : 0))
        let segment: QueueSegment
        if let current = writeSegment, !needsNewSegment(for: recordBytes) {
            segment = current
        } else {
            let previous = writeSegment
            segment = startSegment()
            // The old write segment is kept only while written to.
            if let previous, previous.unacknowledged == 0 { delete(previous) }
        }
        lastSequence += 1
        let before = segment.pending.count
        QueueSegment.appendMessage(to: &segment.pending, sequence: lastSequence, enqueuedAt: wallMilliseconds, payload: payload)
        totalBytes += segment.pending.count - before
        if segment.messageCount == 0 { segment.firstEnqueuedAt = wallMilliseconds }
        segment.messageCount += 1
        count += 1
        return lastSequence
    }

    /// Marks one message delivered (PUBACK); a segment whose messages are all acknowledged is deleted
    /// (its file unlinked by the next flush; the write segment stays while it is written to).
    package func acknowledge(_ sequence: UInt64) {
        guard let segment = segment(containing: sequence), segment.acknowledged.insert(sequence...sequence) == 1 else { return }
        count -= 1
        pendingAcknowledgements.insert(sequence...sequence)
        if segment.unacknowledged == 0 && segment !== writeSegment { delete(segment) }
    }

    /// Unacknowledged messages with sequence > `after` (nil: from the oldest), in order, at most `limit`.
    /// Payloads are read back from the files (memory does not grow with the backlog); what was
    /// buffered is flushed first.
    package func messages(after: UInt64?, limit: Int) throws(StorageError) -> [QueuedMessage] {
        try flush()
        var result: [QueuedMessage] = []
        guard limit > 0 else { return result }
        var from: UInt64 = 0
        if let after {
            guard after < .max else { return result }
            from = after + 1
        }
        var index = firstSegmentIndex(endingAtOrAfter: from)
        while index < segments.count && result.count < limit {
            let segment = segments[index]
            index += 1
            guard segment.unacknowledged > 0, let sequences = segment.sequences, sequences.upperBound >= from,
                  let start = segment.acknowledged.firstMissing(in: max(from, sequences.lowerBound)...sequences.upperBound)
            else { continue }
            try read(segment, from: start, limit: limit - result.count) { result.append($0) }
        }
        closeIdleDescriptors()
        return result
    }

    /// Drops messages older than maximumAge at `wallMilliseconds`: from the oldest, up to the first
    /// one that is not (wall clocks may step back). Counted as "maxAge" drops.
    package func expire(at wallMilliseconds: Int64) -> QueueDrops? {
        guard let age = limits.maximumAge, count > 0 else { return nil }
        let (cutoff, overflow) = wallMilliseconds.subtractingReportingOverflow(age.milliseconds)
        guard !overflow, let oldest = oldestEnqueuedAt, oldest < cutoff else { return nil }
        // The records to look at must be in the files; a failed flush leaves the buffered ones for later.
        try? flush()
        var dropped = QueueDrops(count: 0, bytes: 0, reason: "maxAge")
        scanning: for segment in segments where segment.unacknowledged > 0 {
            guard let descriptor = try? descriptor(for: segment) else { break }
            var scanner = SegmentScanner(descriptor: descriptor, path: segment.path, from: QueueSegment.headerBytes, to: segment.written)
            while true {
                let next: SegmentRecord??
                do { next = try scanner.next() } catch { next = nil }
                guard let read = next else { break scanning } // a read failure: the rest waits for the next expire
                guard let record = read else { break }
                guard case let .message(sequence, enqueuedAt, payload) = record else { continue }
                guard !segment.acknowledged.contains(sequence) else { continue }
                guard enqueuedAt < cutoff else { break scanning }
                acknowledge(sequence)
                dropped.count += 1
                dropped.bytes += payload.count + QueueSegment.messageOverhead
            }
        }
        closeIdleDescriptors()
        guard dropped.count > 0 else { return nil }
        record(dropped)
        return dropped
    }

    /// Drops since the last call (from append's byte bound or expire), then resets.
    package func takeDrops() -> [QueueDrops] {
        defer { drops.removeAll() }
        return drops
    }

    /// The enqueued-at time of the oldest unacknowledged message (read back from its file and
    /// cached; the time of its segment's first message if that read fails or it is not flushed yet).
    package var oldestEnqueuedAt: Int64? {
        guard count > 0, let segment = segments.first(where: { $0.unacknowledged > 0 }),
              let sequences = segment.sequences, let oldest = segment.acknowledged.firstMissing(in: sequences)
        else { return nil }
        if oldest == segment.first { return segment.firstEnqueuedAt }
        if let oldestCache, oldestCache.sequence == oldest { return oldestCache.enqueuedAt }
        var found: QueuedMessage?
        try? read(segment, from: oldest, limit: 1) { found = $0 }
        guard let found, found.sequence == oldest else { return segment.firstEnqueuedAt }
        oldestCache = (oldest, found.enqueuedAt)
        return found.enqueuedAt
    }

    /// What to fdatasync for what was written since the last request: duplicated descriptors the
    /// request owns (and closes), so the syncer thread never shares the queue's descriptors.
    package func syncRequest() -> QueueSyncRequest? {
        var files: [QueueSyncRequest.File] = []
        for segment in segments where segment.needsSync && segment.descriptor >= 0 {
            guard let copy = Self.duplicate(segment.descriptor) else { continue }
            files.append(.init(descriptor: copy, path: segment.path, isDirectory: false))
            segment.needsSync = false
        }
        // The folder after the files: a new name should not point at data not yet on disk.
        if directoryNeedsSync, directoryDescriptor >= 0, let copy = Self.duplicate(directoryDescriptor) {
            files.append(.init(descriptor: copy, path: directory, isDirectory: true))
            directoryNeedsSync = false
        }
        closeIdleDescriptors()
        return files.isEmpty ? nil : QueueSyncRequest(files: files)
    }

    /// Flushes and closes every descriptor (releasing the folder's lock); no fsync: for a power-safe
    /// shutdown hand a last syncRequest() to the syncer. Safe to call twice; errors are dropped.
    package func close() {
        guard !isClosed else { return }
        try? flush()
        for segment in segments + pendingRemovals { Self.closeDescriptor(&segment.descriptor) }
        Self.closeDescriptor(&directoryDescriptor)
        isClosed = true
    }

    // MARK: - Reading

    /// Hands `deliver` the unacknowledged messages of `segment` from sequence `start` on (as far as
    /// written), until `limit` messages were delivered in this read or the segment ends.
    func read(_ segment: QueueSegment, from start: UInt64, limit: Int, _ deliver: (QueuedMessage) -> Void) throws(StorageError) {
        let descriptor = try descriptor(for: segment)
        var offset = QueueSegment.headerBytes
        var expected = segment.first
        // The cursor nearest before `start` in this segment, if any.
        var best: Int?
        for (index, cursor) in cursors.enumerated() where cursor.segment == segment.first && cursor.nextSequence <= start {
            if best.map({ cursors[$0].nextSequence < cursor.nextSequence }) ?? true { best = index }
        }
        if let best {
            offset = cursors[best].offset
            expected = cursors[best].nextSequence
            cursors.remove(at: best)
        }
        var scanner = SegmentScanner(descriptor: descriptor, path: segment.path, from: offset, to: segment.written)
        var delivered = 0
        while expected <= segment.last, let record = try scanner.next() {
            guard case let .message(sequence, enqueuedAt, payload) = record else { continue }
            guard sequence == expected else {
                throw .corrupt(path: segment.path, offset: scanner.offset, reason: "message \(sequence) where \(expected) was expected")
            }
            expected += 1
            guard sequence >= start, !segment.acknowledged.contains(sequence) else { continue }
            deliver(QueuedMessage(sequence: sequence, enqueuedAt: enqueuedAt, payload: scanner.bytes(payload)))
            delivered += 1
            if delivered == limit { break }
        }
        if scanner.stoppedAtBadRecord {
            // It replayed whole at open: something else changed the file since.
            throw .corrupt(path: segment.path, offset: scanner.offset, reason: "a record no longer reads back")
        }
        if expected <= segment.last {
            cursors.append(ReadCursor(segment: segment.first, offset: scanner.offset, nextSequence: expected))
            if cursors.count > Self.cursorLimit { cursors.removeFirst() }
        }
    }

    /// The live segment holding message `sequence`, nil if none does.
    func segment(containing sequence: UInt64) -> QueueSegment? {
        let index = firstSegmentIndex(endingAtOrAfter: sequence)
        guard index < segments.count, let sequences = segments[index].sequences, sequences.contains(sequence) else { return nil }
        return segments[index]
    }

    /// The index of the first segment whose messages do not all come before `sequence`.
    func firstSegmentIndex(endingAtOrAfter sequence: UInt64) -> Int {
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            // A segment without messages ends before its first sequence.
            if segments[middle].messageCount == 0 ? segments[middle].first <= sequence : segments[middle].last < sequence {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }

    func record(_ dropped: QueueDrops) {
        if let last = drops.last, last.reason == dropped.reason {
            drops[drops.count - 1].count += dropped.count
            drops[drops.count - 1].bytes += dropped.bytes
        } else {
            drops.append(dropped)
        }
    }
}
