@testable import Broker
import Glibc
import MQTT
import POSIX
import TestSupport
import Testing

@Suite("Persistence: records, durable state, write-ahead log")
struct PersistenceTests {
    // MARK: - Codec

    @Test("Every record type round-trips; every prefix and any extra byte is refused")
    func recordsRoundTrip() {
        for record in Self.everyKind {
            var bytes: [UInt8] = []
            record.encode(into: &bytes)
            #expect(StoreRecord.decode(bytes, in: bytes.indices) == record)
            for cut in 0..<bytes.count {
                #expect(StoreRecord.decode(bytes, in: 0..<cut) == nil, "prefix of \(cut) bytes of \(record)")
            }
            let padded = bytes + [0]
            #expect(StoreRecord.decode(padded, in: padded.indices) == nil)
            // In the middle of other bytes, as in a log file.
            let framed = [9, 9] + bytes + [9]
            #expect(StoreRecord.decode(framed, in: 2..<(2 + bytes.count)) == record)
        }
    }

    @Test("Invalid fields do not decode: type, QoS, retain flag, UTF-8")
    func invalidFields() {
        var valid: [UInt8] = []
        StoreRecord.retain(StoredMessage(topic: "a", payload: [7], qos: .atLeastOnce, retain: true)).encode(into: &valid)
        // type 1, topic length 1 0, "a", qos, retain, payload length, payload
        #expect(valid == [1, 1, 0, 0x61, 1, 1, 1, 0, 0, 0, 7])
        for (index, value) in [(0, UInt8(0)), (0, 13), (0, 255), (4, 3), (5, 2), (3, 0xFF), (1, 2), (6, 2)] {
            var bytes = valid
            bytes[index] = value
            #expect(StoreRecord.decode(bytes, in: bytes.indices) == nil, "byte \(index) = \(value)")
        }
        #expect(StoreRecord.decode(valid, in: 0..<(valid.count + 1)) == nil)
    }

    @Test("Decoding random and mutated bytes never traps")
    func decodingNeverTraps() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let count = Int(generator.next() % 40)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if !bytes.isEmpty { bytes[0] = UInt8(generator.next() % 13) } // mostly known types
            _ = StoreRecord.decode(bytes, in: bytes.indices)
            _ = WriteAheadLog.frame(in: bytes, at: 0)
        }
        for record in Self.everyKind {
            var encoded: [UInt8] = []
            record.encode(into: &encoded)
            // The fields are in the first bytes and the last ones; the middle of a long payload is opaque.
            for index in encoded.indices where index < 64 || index >= encoded.count - 8 {
                for value: UInt8 in [0, 1, 2, 0x7F, 0x80, 0xFF] {
                    var bytes = encoded
                    bytes[index] = value
                    _ = StoreRecord.decode(bytes, in: bytes.indices)
                }
            }
        }
    }

    // MARK: - Durable state

    @Test("apply: retain replaces, clear removes, subscribe replaces, unsubscribe removes")
    func applyRetainedAndSubscriptions() {
        var state = DurableState()
        let first = StoredMessage(topic: "t", payload: [1], qos: .atMostOnce, retain: true)
        let second = StoredMessage(topic: "t", payload: [2], qos: .atLeastOnce, retain: true)
        state.apply(.retain(first))
        state.apply(.retain(second))
        state.apply(.retain(StoredMessage(topic: "u", payload: [], qos: .atMostOnce, retain: true)))
        #expect(state.retained == ["t": second, "u": StoredMessage(topic: "u", payload: [], qos: .atMostOnce, retain: true)])
        state.apply(.clearRetained(topic: "u"))
        state.apply(.clearRetained(topic: "never"))
        #expect(state.retained == ["t": second])

        state.apply(.openSession(clientID: "c"))
        state.apply(.subscribe(clientID: "c", filter: "a/#", qos: .atMostOnce))
        state.apply(.subscribe(clientID: "c", filter: "a/#", qos: .exactlyOnce))
        state.apply(.subscribe(clientID: "c", filter: "b", qos: .atLeastOnce))
        state.apply(.unsubscribe(clientID: "c", filter: "b"))
        state.apply(.unsubscribe(clientID: "c", filter: "not-there"))
        #expect(state.sessions["c"]?.subscriptions == ["a/#": .exactlyOnce])
        // Opening an open session keeps it.
        state.apply(.openSession(clientID: "c"))
        #expect(state.sessions["c"]?.subscriptions == ["a/#": .exactlyOnce])
    }

    @Test("apply: complete removes by packet id, release marks, QoS 2 inbound, close drops all")
    func applyMessages() {
        var state = DurableState()
        state.apply(.openSession(clientID: "c"))
        for identifier: UInt16 in [5, 1, 9] {
            state.apply(.enqueue(clientID: "c", packetIdentifier: identifier, message: Self.message(identifier)))
        }
        state.apply(.release(clientID: "c", packetIdentifier: 9))
        state.apply(.complete(clientID: "c", packetIdentifier: 1))
        state.apply(.complete(clientID: "c", packetIdentifier: 77))
        state.apply(.release(clientID: "c", packetIdentifier: 78))
        #expect(state.sessions["c"]?.outgoing == [
            .init(packetIdentifier: 5, message: Self.message(5)),
            .init(packetIdentifier: 9, message: Self.message(9), released: true),
        ])
        // Re-enqueueing an identifier replaces its message and moves it to the end.
        state.apply(.enqueue(clientID: "c", packetIdentifier: 5, message: Self.message(50)))
        #expect(state.sessions["c"]?.outgoing.map(\.packetIdentifier) == [9, 5])
        #expect(state.sessions["c"]?.outgoing(packetIdentifier: 5)?.message == Self.message(50))
        #expect(state.sessions["c"]?.outgoingCount == 2)

        state.apply(.awaitRelease(clientID: "c", packetIdentifier: 3))
        state.apply(.awaitRelease(clientID: "c", packetIdentifier: 4))
        state.apply(.released(clientID: "c", packetIdentifier: 3))
        #expect(state.sessions["c"]?.awaitingRelease == [4])

        state.apply(.openSession(clientID: "d"))
        state.apply(.subscribe(clientID: "d", filter: "x", qos: .atLeastOnce))
        state.apply(.closeSession(clientID: "c"))
        #expect(state.sessions.keys.sorted() == ["d"])
        // A new session under the old name starts empty.
        state.apply(.openSession(clientID: "c"))
        #expect(state.sessions["c"] == DurableState.Session())
    }

    @Test("apply ignores records about sessions that are not open")
    func applyIgnoresUnopenedSessions() {
        var state = DurableState()
        for record in Self.everyKind where ![.retain, .clearRetained, .open, .permanent].contains(Self.category(record)) {
            state.apply(record)
        }
        #expect(state == DurableState())
        state.apply(.openSession(clientID: "c"))
        state.apply(.closeSession(clientID: "c"))
        state.apply(.subscribe(clientID: "c", filter: "a", qos: .atMostOnce))
        state.apply(.enqueue(clientID: "c", packetIdentifier: 1, message: Self.message(1)))
        #expect(state == DurableState())
    }

    @Test("Draining, releasing and re-enqueueing a long queue agrees with a plain array")
    func longQueueAgreesWithArray() {
        var generator = SplitMix64(seed: 3)
        var session = DurableState.Session()
        var model: [DurableState.Outgoing] = []
        for step in 0..<20_000 {
            let identifier = UInt16(generator.next() % 3000 + 1)
            switch generator.next() % 10 {
            case 0..<4:
                let outgoing = DurableState.Outgoing(packetIdentifier: identifier, message: Self.message(UInt16(step % 60000)))
                session.enqueue(outgoing)
                model.removeAll { $0.packetIdentifier == identifier }
                model.append(outgoing)
            case 4:
                session.release(identifier)
                if let index = model.firstIndex(where: { $0.packetIdentifier == identifier }) { model[index].released = true }
            case 5..<8 where !model.isEmpty:
                // Mostly from the front, as a reconnecting client drains its queue.
                let oldest = model.removeFirst().packetIdentifier
                session.complete(oldest)
            default:
                session.complete(identifier)
                model.removeAll { $0.packetIdentifier == identifier }
            }
            if step % 97 == 0 {
                #expect(session.outgoing == model)
                #expect(session.outgoingCount == model.count)
                #expect(session.outgoing(packetIdentifier: identifier) == model.first { $0.packetIdentifier == identifier })
            }
        }
        #expect(session == DurableState.Session(outgoing: model))
    }

    @Test("snapshotRecords rebuilds the state exactly, released flags and queue order included")
    func snapshotRebuilds() {
        var generator = SplitMix64(seed: 11)
        var state = DurableState()
        for record in Self.randomRecords(count: 5000, using: &generator) { state.apply(record) }
        // The seed gives a state with something of each kind.
        #expect(!state.retained.isEmpty)
        #expect(state.sessions.values.contains { !$0.subscriptions.isEmpty })
        #expect(state.sessions.values.contains { !$0.awaitingRelease.isEmpty })
        #expect(state.sessions.values.contains { $0.outgoing.contains(where: \.released) })
        #expect(state.sessions.values.contains { $0.outgoing.contains { !$0.released } })
        var rebuilt = DurableState()
        for record in state.snapshotRecords() { rebuilt.apply(record) }
        #expect(rebuilt == state)
        #expect(rebuilt.snapshotRecords() == state.snapshotRecords())
    }

    // MARK: - Log file

    @Test("Append, flush, close and reopen give the same state; close twice is safe")
    func reopen() throws {
        let folder = TemporaryFolder()
        let directory = folder.path + "/data/broker" // created, parents included
        var shuffler = SplitMix64(seed: 1)
        let (log, opened) = try WriteAheadLog.open(directory: directory)
        var state = opened
        #expect(state == DurableState())
        #expect(log.fileSize == 8)
        #expect(log.path == directory + "/broker.wal")
        for record in Self.everyKind.shuffled(using: &shuffler) + Self.everyKind {
            log.append(record)
            state.apply(record)
        }
        #expect(log.fileSize == 8) // buffered only
        try log.flush()
        #expect(log.fileSize > 8)
        log.close()
        log.close()
        let (reopened, replayed) = try WriteAheadLog.open(directory: directory)
        #expect(replayed == state)
        #expect(reopened.droppedBytesAtOpen == 0)
    }

    @Test("10,000 enqueue/complete pairs with random payloads replay to the in-memory model")
    func manyRecords() throws {
        let folder = TemporaryFolder()
        var generator = SplitMix64(seed: 2024)
        var (log, model) = try WriteAheadLog.open(directory: folder.path)
        let clients = ["alpha", "beta", "gamma", "δέλτα"]
        var pending: [(client: String, identifier: UInt16, qos: QoS, released: Bool)] = []
        var nextIdentifier: UInt16 = 1
        func record(_ record: StoreRecord) {
            log.append(record)
            model.apply(record)
        }
        for client in clients { record(.openSession(clientID: client)) }
        for _ in 0..<10_000 {
            let client = clients[Int(generator.next() % UInt64(clients.count))]
            let qos: QoS = generator.next() % 2 == 0 ? .atLeastOnce : .exactlyOnce
            let payload = (0..<Int(generator.next() % 300)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let message = StoredMessage(topic: "plant/\(client)/\(generator.next() % 50)", payload: payload, qos: qos, retain: false)
            record(.enqueue(clientID: client, packetIdentifier: nextIdentifier, message: message))
            pending.append((client, nextIdentifier, qos, false))
            nextIdentifier = nextIdentifier == UInt16.max ? 1 : nextIdentifier + 1
            // Each message is completed later, out of order, QoS 2 ones released first.
            while pending.count > Int(generator.next() % 40) {
                let index = Int(generator.next() % UInt64(pending.count))
                let entry = pending[index]
                if entry.qos == .exactlyOnce && !entry.released {
                    record(.release(clientID: entry.client, packetIdentifier: entry.identifier))
                    pending[index].released = true
                } else {
                    record(.complete(clientID: entry.client, packetIdentifier: entry.identifier))
                    pending.remove(at: index)
                }
            }
            if generator.next() % 50 == 0 { try log.flush() }
        }
        #expect(model.sessions.values.map(\.outgoingCount).reduce(0, +) == pending.count)
        log.close()
        let (first, replayed) = try WriteAheadLog.open(directory: folder.path)
        #expect(replayed == model)
        #expect(first.droppedBytesAtOpen == 0)
        first.close()
        let (_, compacted) = try WriteAheadLog.open(directory: folder.path)
        #expect(compacted == model)
    }

    @Test("A torn last record, cut at every byte, is dropped; appends after reopen survive")
    func tornTail() throws {
        let (bytes, lastStart, before, after) = try Self.logWithKnownLastRecord()
        let extra = StoreRecord.subscribe(clientID: "c", filter: "after/#", qos: .atLeastOnce)
        var afterExtra = before
        afterExtra.apply(extra)
        for cut in lastStart..<bytes.count {
            let copy = TemporaryFolder()
            Self.write(Array(bytes[..<cut]), to: copy.path + "/broker.wal")
            let (log, state) = try WriteAheadLog.open(directory: copy.path)
            #expect(state == before, "cut at \(cut)")
            #expect(log.droppedBytesAtOpen == cut - lastStart)
            log.append(extra)
            log.close()
            let (again, replayed) = try WriteAheadLog.open(directory: copy.path)
            #expect(replayed == afterExtra, "cut at \(cut)")
            #expect(again.droppedBytesAtOpen == 0)
        }
        let whole = TemporaryFolder()
        Self.write(bytes, to: whole.path + "/broker.wal")
        #expect(try WriteAheadLog.open(directory: whole.path).1 == after)
    }

    @Test("A flipped byte in the last record's payload or CRC drops that record")
    func flippedByte() throws {
        let (bytes, lastStart, before, _) = try Self.logWithKnownLastRecord()
        for index in (lastStart + 4)..<bytes.count {
            var damaged = bytes
            damaged[index] ^= 0x20
            let copy = TemporaryFolder()
            Self.write(damaged, to: copy.path + "/broker.wal")
            let (log, state) = try WriteAheadLog.open(directory: copy.path)
            #expect(state == before, "flipped byte \(index)")
            #expect(log.droppedBytesAtOpen == bytes.count - lastStart)
        }
    }

    @Test("A file that is not our log is an error and is left as it was")
    func wrongHeader() throws {
        let cases: [(bytes: [UInt8], offset: Int)] = [
            (Array("not a broker log at all".utf8), 0),
            (Array("MBWL".utf8) + [2, 0, 0, 0], 4), // a later format version
            (Array("XB".utf8), 0),
        ]
        for (bytes, offset) in cases {
            let folder = TemporaryFolder()
            let path = folder.path + "/broker.wal"
            Self.write(bytes, to: path)
            #expect(Self.openError(folder.path).map(Self.corruptAt) == offset, "\(bytes)")
            #expect(Self.read(path) == bytes)
        }
        // Empty, or a header cut short while the file was created: nothing to lose, a new log.
        for bytes in [[], Array("MBW".utf8)] {
            let folder = TemporaryFolder()
            Self.write(bytes, to: folder.path + "/broker.wal")
            #expect(try WriteAheadLog.open(directory: folder.path).1 == DurableState())
        }
    }

    @Test("Compaction shrinks a churned log to the snapshot; later appends survive a reopen")
    func compaction() throws {
        let folder = TemporaryFolder()
        var (log, model) = try WriteAheadLog.open(directory: folder.path)
        func record(_ record: StoreRecord) {
            log.append(record)
            model.apply(record)
        }
        record(.openSession(clientID: "c"))
        for step in 0..<3000 {
            let identifier = UInt16(step % 200 + 1)
            record(.enqueue(clientID: "c", packetIdentifier: identifier, message: Self.message(identifier)))
            if step % 10 != 0 { record(.complete(clientID: "c", packetIdentifier: identifier)) }
            record(.retain(StoredMessage(topic: "r/\(step % 5)", payload: Array(repeating: UInt8(step % 256), count: 64), qos: .atMostOnce, retain: true)))
        }
        record(.clearRetained(topic: "r/0"))
        try log.flush()
        let churned = log.fileSize
        record(.subscribe(clientID: "c", filter: "buffered", qos: .atMostOnce)) // in the state, not yet written
        try log.compact(to: model)
        var snapshot = WriteAheadLog.header
        for record in model.snapshotRecords() { WriteAheadLog.appendFrame(record, to: &snapshot) }
        #expect(log.fileSize == snapshot.count)
        #expect(log.fileSize * 10 < churned)
        #expect(Self.read(log.path) == snapshot)
        #expect(Self.read(log.path + ".tmp") == nil)

        record(.enqueue(clientID: "c", packetIdentifier: 999, message: Self.message(999)))
        record(.retain(StoredMessage(topic: "late", payload: [1, 2, 3], qos: .exactlyOnce, retain: true)))
        try log.sync()
        log.close()
        let (_, replayed) = try WriteAheadLog.open(directory: folder.path)
        #expect(replayed == model)
        // 20 identifiers stay queued from the churn (every tenth step), plus 999.
        #expect(replayed.sessions["c"]?.outgoingCount == 21)
    }

    @Test("Flushed records are in the file without sync or close (what a kill -9 leaves)")
    func flushedSurvivesKill() throws {
        let folder = TemporaryFolder()
        let (log, _) = try WriteAheadLog.open(directory: folder.path)
        var flushed = DurableState()
        for record: StoreRecord in [
            .openSession(clientID: "c"),
            .enqueue(clientID: "c", packetIdentifier: 1, message: Self.message(1)),
            .retain(StoredMessage(topic: "t", payload: [9], qos: .atLeastOnce, retain: true)),
        ] {
            log.append(record)
            flushed.apply(record)
        }
        try log.flush()
        log.append(.complete(clientID: "c", packetIdentifier: 1)) // buffered only: lost by a kill
        // The copy is what a new process would find if this one were killed now.
        let copy = TemporaryFolder()
        let bytes = try #require(Self.read(log.path))
        Self.write(bytes, to: copy.path + "/broker.wal")
        let (_, state) = try WriteAheadLog.open(directory: copy.path)
        #expect(state == flushed)
        log.close()
    }

    @Test("One log per folder: a second open fails until the first is closed")
    func secondOpenIsLocked() throws {
        let folder = TemporaryFolder()
        let (log, _) = try WriteAheadLog.open(directory: folder.path)
        #expect(Self.openError(folder.path) == .storageFailed(path: folder.path, operation: "lock", Errno(rawValue: EWOULDBLOCK)))
        log.close()
        _ = try WriteAheadLog.open(directory: folder.path)
    }

    @Test("Errors carry the path and the operation")
    func errorsNamePathAndOperation() {
        let folder = TemporaryFolder()
        let file = folder.path + "/plain-file"
        Self.write([1], to: file)
        // The first component that is not a folder is named.
        #expect(Self.openError(file + "/wal") == .storageFailed(path: file, operation: "mkdir", Errno(rawValue: ENOTDIR)))
        #expect(Self.openError(file) == .storageFailed(path: file, operation: "mkdir", Errno(rawValue: ENOTDIR)))
    }

    // MARK: - Helpers

    private enum Category { case retain, clearRetained, open, permanent, other }

    private static func category(_ record: StoreRecord) -> Category {
        switch record {
        case .retain: .retain
        case .clearRetained: .clearRetained
        case .openSession: .open
        case .permanent: .permanent
        default: .other
        }
    }

    private static func message(_ number: UInt16) -> StoredMessage {
        StoredMessage(topic: "m/\(number)", payload: Array("payload \(number)".utf8), qos: number % 2 == 0 ? .atLeastOnce : .exactlyOnce, retain: false)
    }

    /// Each record type, with empty, long and non-ASCII fields and edge identifiers.
    static let everyKind: [StoreRecord] = [
        .retain(StoredMessage(topic: "plant/oven1/temperature", payload: [0, 1, 255], qos: .exactlyOnce, retain: true)),
        .retain(StoredMessage(topic: "", payload: [], qos: .atMostOnce, retain: false)),
        .retain(StoredMessage(topic: "ü/€/😀", payload: Array(repeating: 0xAB, count: 70_000), qos: .atLeastOnce, retain: true)),
        .clearRetained(topic: "plant/oven1/temperature"),
        .openSession(clientID: "c"),
        .openSession(clientID: String(repeating: "x", count: 65_535)),
        .closeSession(clientID: "gone"),
        .subscribe(clientID: "c", filter: "plant/+/temperature", qos: .atLeastOnce),
        .subscribe(clientID: "c", filter: "#", qos: .exactlyOnce),
        .unsubscribe(clientID: "c", filter: "#"),
        .enqueue(clientID: "c", packetIdentifier: 1, message: StoredMessage(topic: "a/b", payload: [1, 2], qos: .atLeastOnce, retain: false)),
        .enqueue(clientID: "c", packetIdentifier: UInt16.max, message: StoredMessage(topic: "a/b", payload: [], qos: .exactlyOnce, retain: true)),
        .release(clientID: "c", packetIdentifier: UInt16.max),
        .complete(clientID: "c", packetIdentifier: 1),
        .awaitRelease(clientID: "c", packetIdentifier: 0x1234),
        .released(clientID: "c", packetIdentifier: 0x1234),
        .permanent(StoredMessage(topic: "$devices/oven-1/state", payload: Array("{\"online\":true}".utf8), qos: .atLeastOnce, retain: false)),
    ]

    /// A mix of every kind of record over a few clients, topics and identifiers.
    static func randomRecords(count: Int, using generator: inout SplitMix64) -> [StoreRecord] {
        func pick<T>(_ options: [T]) -> T { options[Int(generator.next() % UInt64(options.count))] }
        let clients = ["a", "b", "c", "d"], topics = ["t/1", "t/2", "t/3"], qos = QoS.allCases
        return (0..<count).map { _ in
            let client = pick(clients)
            let identifier = UInt16(generator.next() % 30 + 1)
            let message = StoredMessage(topic: pick(topics), payload: [UInt8(truncatingIfNeeded: generator.next())], qos: pick(qos), retain: generator.next() % 2 == 0)
            switch generator.next() % 22 {
            case 0, 1: return .retain(message)
            case 2: return .clearRetained(topic: pick(topics))
            case 3, 4: return .openSession(clientID: client)
            case 5: return .closeSession(clientID: client)
            case 6, 7: return .subscribe(clientID: client, filter: pick(topics), qos: pick(qos))
            case 8: return .unsubscribe(clientID: client, filter: pick(topics))
            case 9..<14: return .enqueue(clientID: client, packetIdentifier: identifier, message: message)
            case 14, 15: return .release(clientID: client, packetIdentifier: identifier)
            case 16, 17: return .complete(clientID: client, packetIdentifier: identifier)
            case 18, 19: return .awaitRelease(clientID: client, packetIdentifier: identifier)
            default: return .released(clientID: client, packetIdentifier: identifier)
            }
        }
    }

    /// A closed log's bytes, where its last record starts, and the state without and with it.
    private static func logWithKnownLastRecord() throws -> (bytes: [UInt8], lastStart: Int, before: DurableState, after: DurableState) {
        let folder = TemporaryFolder()
        var (log, before) = try WriteAheadLog.open(directory: folder.path)
        for record: StoreRecord in [
            .openSession(clientID: "c"),
            .subscribe(clientID: "c", filter: "plant/#", qos: .exactlyOnce),
            .enqueue(clientID: "c", packetIdentifier: 7, message: message(7)),
        ] {
            log.append(record)
            before.apply(record)
        }
        try log.flush()
        let lastStart = log.fileSize
        let last = StoreRecord.enqueue(clientID: "c", packetIdentifier: 8, message: StoredMessage(topic: "plant/oven", payload: Array(0..<40), qos: .exactlyOnce, retain: false))
        log.append(last)
        log.close()
        var after = before
        after.apply(last)
        return (try #require(read(log.path)), lastStart, before, after)
    }

    private static func openError(_ directory: String) -> BrokerError? {
        do {
            _ = try WriteAheadLog.open(directory: directory)
            return nil
        } catch {
            return error
        }
    }

    private static func corruptAt(_ error: BrokerError) -> Int? {
        if case let .storageCorrupt(_, offset, _) = error { offset } else { nil }
    }

    /// The file's bytes, nil if it cannot be opened.
    private static func read(_ path: String) -> [UInt8]? {
        readFileBytes(path)
    }

    private static func write(_ bytes: [UInt8], to path: String) {
        #expect(writeFileBytes(bytes, to: path), "cannot write \(path)")
    }
}
