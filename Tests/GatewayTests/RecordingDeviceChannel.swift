import GatewayCore
import Synchronization
import TestSupport

/// A `DeviceChannel` in memory: it records what the device's runtime publishes, and a test
/// injects commands and config as a broker would deliver them.
final class RecordingDeviceChannel: DeviceChannel {
    enum Kind: Equatable {
        case events
        case subtopic(point: String)
        case state
        case ack
    }

    struct Record {
        let kind: Kind
        let payload: [UInt8]
    }

    private let records = Mutex<[Record]>([])
    private let relay = InputRelay()
    private let closed = Atomic<Bool>(false)

    /// Everything published so far, in order.
    var published: [Record] { records.withLock { $0 } }
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Delivers a message as the broker would (kept until the runtime starts receiving); false
    /// if the runtime dropped it.
    @discardableResult
    func inject(_ topic: CommandTopic, _ payload: String) -> Bool {
        relay.pass(DeviceInput(topic: topic, payload: Array(payload.utf8)))
    }

    /// The first record of `kind` after the first `skip` records whose JSON object satisfies
    /// `condition`, with its position, waiting up to 10 s (a liveness bound: it normally comes
    /// within a few poll cycles of 100 ms).
    func find(_ kind: Kind, after skip: Int = 0, where condition: ([String: Any]) -> Bool = { _ in true }) async -> (position: Int, object: [String: Any])? {
        for _ in 0..<1000 {
            for (position, record) in published.enumerated().dropFirst(skip) where record.kind == kind {
                if let object = GatewayFixture.json(record.payload), condition(object) { return (position, object) }
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// `find`, without the position.
    func first(_ kind: Kind, after skip: Int = 0, where condition: ([String: Any]) -> Bool = { _ in true }) async -> [String: Any]? {
        await find(kind, after: skip, where: condition)?.object
    }

    func publishEvents(_ document: [UInt8], subtopics: [(point: String, value: [UInt8])]) {
        records.withLock { records in
            records.append(Record(kind: .events, payload: document))
            for (point, value) in subtopics { records.append(Record(kind: .subtopic(point: point), payload: value)) }
        }
    }

    func publishState(_ document: [UInt8]) {
        records.withLock { $0.append(Record(kind: .state, payload: document)) }
    }

    func publishAck(_ document: [UInt8]) {
        records.withLock { $0.append(Record(kind: .ack, payload: document)) }
    }

    func receive(_ handler: @escaping @Sendable (DeviceInput) -> Bool) {
        relay.receive(handler)
    }

    func close() {
        relay.close()
        closed.store(true, ordering: .releasing)
    }
}
