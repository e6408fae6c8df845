import Glibc
import POSIX
import Storage
import TestSupport
import Testing

@Suite("Storage: the store-and-forward message queue (segments, acknowledgements, restarts, torn tails, bounds, sync)")
struct MessageQueueTests {
    /// Removed after each test has returned, when its queues are closed and released.
    private let folders = TemporaryFolders()

    /// 20-byte payloads: a message record is 45 bytes; with this segment size a segment holds 3.
    static let smallSegments = MessageQueueLimits(maximumBytes: 1 << 20, maximumAge: nil, segmentBytes: 8 + 3 * 45)

    @Test("Messages come back in order with sequences 1, 2, 3 ...; pages go on after a sequence; bytes are the files' sizes")
    func orderAndSequences() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: MessageQueueLimits())
        #expect(queue.lastSequence == 0)
        #expect(try queue.messages(after: nil, limit: 10).isEmpty)
        for index in 1...5 {
            #expect(queue.append(Self.payload(index), at: Int64(index) * 1000) == UInt64(index))
        }
        #expect(queue.count == 5)
        #expect(queue.lastSequence == 5)
        #expect(queue.oldestEnqueuedAt == 1000)
        let all = try queue.messages(after: nil, limit: 10)
        #expect(all == (1...5).map { QueuedMessage(sequence: UInt64($0), enqueuedAt: Int64($0) * 1000, payload: Self.payload($0)) })
        #expect(try queue.messages(after: 2, limit: 2).map(\.sequence) == [3, 4])
        #expect(try queue.messages(after: 4, limit: 2).map(\.sequence) == [5])
        #expect(try queue.messages(after: 5, limit: 2).isEmpty)
        #expect(try queue.messages(after: nil, limit: 0).isEmpty)
        #expect(Self.files(folder) == ["00000000000000000001.seg"])
        #expect(queue.bytes == Self.folderBytes(folder))
        #expect(queue.bytes == 8 + 5 * 45)
    }

    @Test("Acknowledged out of order: the others stay, in order, also after a restart; repeats and unknown sequences are ignored")
    func acknowledgeOutOfOrder() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: MessageQueueLimits())
        for index in 1...10 { _ = queue.append(Self.payload(index), at: 0) }
        for sequence: UInt64 in [3, 7, 1, 7, 99, 0] { queue.acknowledge(sequence) }
        #expect(queue.count == 7)
        #expect(try queue.messages(after: nil, limit: 100).map(\.sequence) == [2, 4, 5, 6, 8, 9, 10])
        #expect(try queue.messages(after: 3, limit: 2).map(\.sequence) == [4, 5])
        queue.acknowledge(2)
        try queue.flush()
        queue.close()
        let reopened = try MessageQueue.open(directory: folder.path, limits: MessageQueueLimits())
        #expect(reopened.count == 6)
        #expect(reopened.lastSequence == 10)
        #expect(try reopened.messages(after: nil, limit: 100).map(\.sequence) == [4, 5, 6, 8, 9, 10])
        #expect(try reopened.messages(after: nil, limit: 1).first?.payload == Self.payload(4))
        #expect(reopened.droppedBytesAtOpen == 0)
    }

    @Test("A segment whose messages are all acknowledged is unlinked; acknowledgements it held for older segments are written again")
    func segmentDeletion() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        for index in 1...10 { _ = queue.append(Self.payload(index), at: 0) }
        try queue.flush()
        #expect(Self.files(folder) == ["1", "4", "7", "10"].map(Self.segmentName))
        // Acknowledging 1 writes its record into segment 10 (the write segment).
        queue.acknowledge(1)
        try queue.flush()
        _ = queue.append(Self.payload(11), at: 0)
        _ = queue.append(Self.payload(12), at: 0)
        try queue.flush()
        #expect(Self.files(folder) == ["1", "4", "7", "10", "12"].map(Self.segmentName))
        // Segment 10 (10, 11) goes: the acknowledgement of 1 it held must not go with it.
        queue.acknowledge(11)
        queue.acknowledge(10)
        // Segment 4 goes too, out of order (1 ... 3 still has 2 and 3).
        for sequence: UInt64 in [5, 4, 6] { queue.acknowledge(sequence) }
        try queue.flush()
        #expect(Self.files(folder) == ["1", "7", "12"].map(Self.segmentName))
        #expect(queue.bytes == Self.folderBytes(folder))
        queue.close()
        let reopened = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        #expect(try reopened.messages(after: nil, limit: 100).map(\.sequence) == [2, 3, 7, 8, 9, 12])
        // The write segment stays while written to, even with nothing left in it.
        reopened.acknowledge(12)
        try reopened.flush()
        #expect(Self.files(folder) == ["1", "7", "12"].map(Self.segmentName))
        for sequence: UInt64 in [2, 3, 7, 8, 9] { reopened.acknowledge(sequence) }
        try reopened.flush()
        #expect(Self.files(folder) == ["12"].map(Self.segmentName))
        #expect(reopened.count == 0)
        #expect(reopened.oldestEnqueuedAt == nil)
        reopened.close()
        let empty = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        #expect(empty.count == 0)
        #expect(empty.lastSequence == 12)
        #expect(empty.append(Self.payload(13), at: 0) == 13)
    }

    @Test("Closed and opened again: unacknowledged messages and the numbering go on, across many segments")
    func restart() throws {
        let folder = folders.make()
        var queue = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        for index in 1...20 { _ = queue.append(Self.payload(index), at: Int64(index)) }
        for sequence in stride(from: UInt64(1), through: 20, by: 2) { queue.acknowledge(sequence) }
        queue.close()
        queue = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        #expect(queue.count == 10)
        #expect(queue.lastSequence == 20)
        #expect(queue.oldestEnqueuedAt == 2)
        let messages = try queue.messages(after: nil, limit: 100)
        #expect(messages.map(\.sequence) == Array(stride(from: UInt64(2), through: 20, by: 2)))
        #expect(messages.map(\.payload) == stride(from: 2, through: 20, by: 2).map { Self.payload($0) })
        #expect(queue.append(Self.payload(21), at: 21) == 21)
        queue.close()
        queue = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        #expect(queue.count == 11)
        #expect(try queue.messages(after: 19, limit: 100).map(\.sequence) == [20, 21])
    }

    @Test("A last segment cut anywhere in its last record: only that message is lost; appends go on after the cut")
    func tornTail() throws {
        let source = folders.make()
        let queue = try MessageQueue.open(directory: source.path, limits: MessageQueueLimits())
        for index in 1...2 { _ = queue.append(Self.payload(index), at: 0) }
        try queue.flush()
        let lastStart = queue.bytes
        _ = queue.append(Self.payload(3), at: 0)
        queue.close()
        let bytes = try #require(readFileBytes(source.path + "/" + Self.segmentName("1")))
        #expect(bytes.count == lastStart + 45)
        for cut in lastStart..<bytes.count {
            let copy = folders.make()
            #expect(writeFileBytes(Array(bytes[..<cut]), to: copy.path + "/" + Self.segmentName("1")))
            let reopened = try MessageQueue.open(directory: copy.path, limits: MessageQueueLimits())
            #expect(reopened.droppedBytesAtOpen == cut - lastStart, "cut at \(cut)")
            #expect(try reopened.messages(after: nil, limit: 10).map(\.sequence) == [1, 2], "cut at \(cut)")
            #expect(reopened.append(Self.payload(30), at: 0) == 3)
            reopened.close()
            let again = try MessageQueue.open(directory: copy.path, limits: MessageQueueLimits())
            #expect(again.droppedBytesAtOpen == 0)
            #expect(try again.messages(after: nil, limit: 10).map(\.payload) == [Self.payload(1), Self.payload(2), Self.payload(30)])
        }
    }

    @Test("A corrupt record in a middle segment: what replays stays, the rest is counted in droppedBytesAtOpen; foreign files are left alone")
    func corruptMiddleSegment() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        for index in 1...9 { _ = queue.append(Self.payload(index), at: 0) }
        queue.close()
        let middle = folder.path + "/" + Self.segmentName("4")
        var bytes = try #require(readFileBytes(middle))
        bytes[8 + 45 + 30] ^= 0xFF // in message 5's payload: its CRC fails
        #expect(writeFileBytes(bytes, to: middle))
        #expect(writeFileBytes(Array("not a queue".utf8), to: folder.path + "/" + Self.segmentName("100")))
        #expect(writeFileBytes([1, 2], to: folder.path + "/notes.txt"))
        let reopened = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        #expect(reopened.droppedBytesAtOpen == 2 * 45 + 11)
        #expect(try reopened.messages(after: nil, limit: 100).map(\.sequence) == [1, 2, 3, 4, 7, 8, 9])
        // Numbering goes past the foreign file's name rather than writing over it.
        #expect(reopened.lastSequence == 100)
        #expect(reopened.append(Self.payload(10), at: 0) == 101)
        try reopened.flush()
        #expect(readFileBytes(folder.path + "/" + Self.segmentName("100")) == Array("not a queue".utf8))
        #expect(Self.files(folder).contains(Self.segmentName("101")))
    }

    @Test("kill -9 after flush (a copy of the folder opened without close): nothing flushed is lost, acknowledgements included")
    func killNineAfterFlush() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        for index in 1...8 { _ = queue.append(Self.payload(index), at: 0) }
        queue.acknowledge(2)
        queue.acknowledge(5)
        try queue.flush()
        _ = queue.append(Self.payload(9), at: 0) // buffered only: a kill loses it
        let copy = folders.make()
        for name in Self.files(folder) {
            #expect(writeFileBytes(try #require(readFileBytes(folder.path + "/" + name)), to: copy.path + "/" + name))
        }
        let recovered = try MessageQueue.open(directory: copy.path, limits: Self.smallSegments)
        #expect(recovered.droppedBytesAtOpen == 0)
        #expect(try recovered.messages(after: nil, limit: 100).map(\.sequence) == [1, 3, 4, 6, 7, 8])
        #expect(recovered.lastSequence == 8)
        queue.close()
    }

    @Test("The byte bound drops whole oldest segments, counted as maxBytes; what stays is the newest, in order")
    func byteBound() throws {
        let folder = folders.make()
        // Segments of at most 1000 / 8 = 125 bytes: 2 messages each.
        let limits = MessageQueueLimits(maximumBytes: 1000, maximumAge: nil)
        let queue = try MessageQueue.open(directory: folder.path, limits: limits)
        for index in 1...100 { _ = queue.append(Self.payload(index), at: 0) }
        try queue.flush()
        #expect(queue.bytes <= 1000)
        #expect(queue.bytes == Self.folderBytes(folder))
        let drops = queue.takeDrops()
        #expect(drops.count == 1)
        #expect(drops.first?.reason == "maxBytes")
        #expect((drops.first?.count ?? 0) + queue.count == 100)
        #expect(drops.first?.bytes == drops.first.map { $0.count / 2 * (8 + 2 * 45) })
        let kept = try queue.messages(after: nil, limit: 1000).map(\.sequence)
        #expect(kept == Array(UInt64(101 - queue.count)...100))
        #expect(queue.takeDrops().isEmpty)
        #expect(Self.files(folder).count == (queue.count + 1) / 2)
    }

    @Test("The age bound drops messages older than maximumAge, oldest first, counted as maxAge, also after a restart")
    func ageBound() throws {
        let folder = folders.make()
        let limits = MessageQueueLimits(maximumBytes: 1 << 20, maximumAge: .seconds(60), segmentBytes: 8 + 3 * 45)
        let queue = try MessageQueue.open(directory: folder.path, limits: limits)
        for index in 0..<10 { _ = queue.append(Self.payload(index), at: Int64(index) * 10_000) }
        #expect(queue.expire(at: 60_000) == nil)
        queue.acknowledge(2)
        let dropped = queue.expire(at: 100_000) // older than 40 s: 1 (0 s), 2 (10 s, acknowledged), 3 (20 s), 4 (30 s)
        #expect(dropped == QueueDrops(count: 3, bytes: 3 * 45, reason: "maxAge"))
        #expect(queue.takeDrops() == [QueueDrops(count: 3, bytes: 3 * 45, reason: "maxAge")])
        #expect(queue.oldestEnqueuedAt == 40_000)
        #expect(try queue.messages(after: nil, limit: 100).map(\.sequence) == [5, 6, 7, 8, 9, 10])
        // Segment 1 (1 ... 3) is gone, segment 4 stays for 5 and 6.
        try queue.flush()
        #expect(Self.files(folder) == ["4", "7", "10"].map(Self.segmentName))
        queue.close()
        let reopened = try MessageQueue.open(directory: folder.path, limits: limits)
        #expect(try reopened.messages(after: nil, limit: 100).map(\.sequence) == [5, 6, 7, 8, 9, 10])
        #expect(reopened.expire(at: 1_000_000)?.count == 6)
        #expect(reopened.count == 0)
        let unbounded = try MessageQueue.open(directory: folders.make().path, limits: MessageQueueLimits(maximumAge: nil))
        _ = unbounded.append([1], at: 0)
        #expect(unbounded.expire(at: .max) == nil)
    }

    @Test("A backlog of 100,000 messages of 200 bytes: appended, flushed, read back in order in pages, acknowledged, its segments unlinked")
    func largeBacklog() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: MessageQueueLimits())
        let clock = ContinuousClock()
        let started = clock.now
        var payload = [UInt8](repeating: 0x61, count: 200)
        for index in 1...100_000 {
            payload.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(index).littleEndian, toByteOffset: 0, as: UInt32.self) }
            _ = queue.append(payload, at: Int64(index))
            if index % 1000 == 0 { try queue.flush() }
        }
        let appended = clock.now
        #expect(queue.count == 100_000)
        #expect(Self.files(folder).count == 6) // 4 MiB segments
        var after: UInt64? = nil
        var read = 0
        while true {
            let page = try queue.messages(after: after, limit: 1000)
            guard let last = page.last else { break }
            for message in page {
                read += 1
                guard message.sequence == UInt64(read), message.payload.count == 200,
                      message.payload.withUnsafeBytes({ $0.loadUnaligned(as: UInt32.self) }) == UInt32(read).littleEndian,
                      message.enqueuedAt == Int64(read)
                else {
                    Issue.record("message \(read) read back as \(message.sequence)")
                    return
                }
            }
            after = last.sequence
        }
        let readBack = clock.now
        #expect(read == 100_000)
        for sequence in 1...UInt64(100_000) { queue.acknowledge(sequence) }
        try queue.flush()
        #expect(queue.count == 0)
        #expect(Self.files(folder).count == 1) // the write segment
        print("100,000 messages: append+flush \(appended - started), read back \(readBack - appended), acknowledged \(clock.now - readBack)")
    }

    @Test("A sync request holds duplicated descriptors of written files and of the folder; the syncer runs it and closes them")
    func syncer() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
        #expect(queue.syncRequest() == nil)
        for index in 1...4 { _ = queue.append(Self.payload(index), at: 0) }
        #expect(queue.syncRequest() == nil) // nothing written yet
        try queue.flush()
        let first = try #require(queue.syncRequest())
        #expect(first.descriptorCount == 3) // segments 1 and 4, the folder
        #expect(queue.syncRequest() == nil)
        queue.acknowledge(4)
        try queue.flush()
        let second = try #require(queue.syncRequest())
        #expect(second.descriptorCount == 1) // segment 4 only: no file created or unlinked
        queue.close()
        // The queue's descriptors are closed; the requests' copies stay open until they run.
        #expect(Self.openDescriptors(into: folder) == 4)
        let syncer = try QueueSyncer(name: "queue-sync-test")
        syncer.submit(first)
        syncer.submit(second)
        syncer.stop()
        #expect(syncer.completedRequests == 2)
        #expect(syncer.failures.count == 0)
        #expect(first.descriptorCount == 0 && second.descriptorCount == 0)
        #expect(Self.openDescriptors(into: folder) == 0)
        // A request never run closes its descriptors when it goes.
        do {
            let reopened = try MessageQueue.open(directory: folder.path, limits: Self.smallSegments)
            _ = reopened.append(Self.payload(5), at: 0)
            try reopened.flush()
            let unrun = reopened.syncRequest()
            reopened.close()
            #expect(unrun?.descriptorCount == 1)
        }
        #expect(Self.openDescriptors(into: folder) == 0)
    }

    @Test("Random appends, acknowledgements in any order, pages and restarts agree with a plain model", arguments: [1, 2, 3, 4] as [UInt64])
    func agreesWithModel(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        // Segments of 8 messages: files are created and unlinked often, but not at every third append.
        let limits = MessageQueueLimits(maximumBytes: 1 << 20, maximumAge: nil, segmentBytes: 8 + 8 * 45)
        var folder = folders.make()
        var queue = try MessageQueue.open(directory: folder.path, limits: limits)
        var model: [UInt64: [UInt8]] = [:]
        var next: UInt64 = 1
        for step in 0..<1000 {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<55:
                let payload = Self.payload(Int(next))
                #expect(queue.append(payload, at: Int64(next)) == next)
                model[next] = payload
                next += 1
            case 55..<90:
                // Mostly near the oldest (as PUBACKs come), now and then anywhere.
                let unacknowledged = model.keys.sorted()
                guard !unacknowledged.isEmpty else { continue }
                let pick = Int.random(in: 0..<100, using: &random) < 70
                    ? Int.random(in: 0..<min(4, unacknowledged.count), using: &random)
                    : Int.random(in: 0..<unacknowledged.count, using: &random)
                queue.acknowledge(unacknowledged[pick])
                model[unacknowledged[pick]] = nil
            case 90..<97:
                let after: UInt64? = Bool.random(using: &random) ? nil : UInt64.random(in: 0..<next, using: &random)
                let limit = Int.random(in: 1...8, using: &random)
                let expected = model.keys.sorted().filter { $0 > (after ?? 0) }.prefix(limit)
                let page = try queue.messages(after: after, limit: limit)
                #expect(page.map(\.sequence) == Array(expected), "seed \(seed) step \(step)")
                #expect(page.map(\.payload) == expected.map { model[$0] ?? [] })
            default:
                if Bool.random(using: &random) {
                    queue.close()
                } else {
                    // kill -9 after a flush: a copy of the folder is what survives.
                    try queue.flush()
                    let copy = folders.make()
                    for name in Self.files(folder) {
                        #expect(writeFileBytes(try #require(readFileBytes(folder.path + "/" + name)), to: copy.path + "/" + name))
                    }
                    queue.close()
                    folder = copy
                }
                queue = try MessageQueue.open(directory: folder.path, limits: limits)
                #expect(queue.droppedBytesAtOpen == 0)
                #expect(queue.lastSequence == next - 1)
            }
            #expect(queue.count == model.count, "seed \(seed) step \(step)")
        }
        #expect(try queue.messages(after: nil, limit: 10_000).map(\.sequence) == model.keys.sorted())
        try queue.flush()
        #expect(queue.bytes == Self.folderBytes(folder))
        // No segment file is left without an unacknowledged message, besides the last (written) one.
        let firsts = Self.files(folder).compactMap { UInt64($0.prefix(20)) }
        for (index, first) in firsts.dropLast().enumerated() {
            #expect(model.keys.contains { $0 >= first && $0 < firsts[index + 1] }, "seed \(seed): segment \(first)")
        }
    }

    @Test("One queue per folder: a second open fails with operation lock until the first is closed")
    func folderLock() throws {
        let folder = folders.make()
        let queue = try MessageQueue.open(directory: folder.path, limits: MessageQueueLimits())
        #expect(throws: StorageError.failed(path: folder.path, operation: "lock", Errno(rawValue: EWOULDBLOCK))) {
            _ = try MessageQueue.open(directory: folder.path, limits: MessageQueueLimits())
        }
        queue.close()
        _ = try MessageQueue.open(directory: folder.path, limits: MessageQueueLimits())
    }

    // MARK: - Helpers

    /// 20 bytes naming `index`.
    static func payload(_ index: Int) -> [UInt8] {
        let text = Array("message \(index)".utf8)
        return text + [UInt8](repeating: 0x2E, count: 20 - text.count)
    }

    static func segmentName(_ first: String) -> String {
        String(repeating: "0", count: 20 - first.count) + first + ".seg"
    }

    static func files(_ folder: TemporaryFolder) -> [String] {
        (directoryEntries(folder.path) ?? []).sorted()
    }

    static func folderBytes(_ folder: TemporaryFolder) -> Int {
        files(folder).reduce(0) { $0 + (readFileBytes(folder.path + "/" + $1)?.count ?? 0) }
    }

    /// Descriptors of this process open on `folder` or a file in it (other tests' are elsewhere).
    static func openDescriptors(into folder: TemporaryFolder) -> Int {
        (directoryEntries("/proc/self/fd") ?? []).filter { name in
            var target = [CChar](repeating: 0, count: 4096)
            let length = readlink("/proc/self/fd/" + name, &target, target.count - 1)
            guard length > 0 else { return false }
            let path = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return path == folder.path || path.hasPrefix(folder.path + "/")
        }.count
    }
}
