@testable import Broker
import MQTT
import Testing

@Suite("Outgoing queue: order, acknowledgements in and out of order, packet identifiers")
struct OutgoingQueueTests {
    private let message = BrokerMessage(topic: "t", payload: [1], qos: .atLeastOnce, retain: false)

    @Test("Sent in order; acknowledged out of order; identifiers of live entries are never handed out again")
    func order() {
        var queue = OutgoingQueue()
        let identifiers = (0..<3).compactMap { _ in queue.enqueue(message, qos: .atLeastOnce, retain: false) }
        #expect(identifiers == [1, 2, 3])
        #expect(queue.publishNext()?.0 == 1 && queue.publishNext()?.0 == 2 && queue.inflightCount == 2)
        #expect(queue.complete(2, expecting: .atLeastOnce) != nil)
        #expect(queue.complete(2, expecting: .atLeastOnce) == nil)
        #expect(queue.complete(3, expecting: .atLeastOnce) == nil)  // not sent yet
        #expect(queue.allInOrder.map(\.0) == [1, 3])
        #expect(queue.publishNext()?.0 == 3 && queue.publishNext() == nil)
        #expect(queue.enqueue(message, qos: .atLeastOnce, retain: false) == 4)
        for identifier: UInt16 in [1, 3] { #expect(queue.complete(identifier, expecting: .atLeastOnce) != nil) }
        #expect(queue.allInOrder.map(\.0) == [4] && queue.publishNext()?.0 == 4)
        #expect(queue.complete(4, expecting: .atLeastOnce) != nil && queue.count == 0 && queue.inflightCount == 0)
        // Empty again: the next message goes out as before.
        #expect(queue.enqueue(message, qos: .atLeastOnce, retain: false) == 5 && queue.publishNext()?.0 == 5)
    }

    @Test("Identifiers wrap past 65535, skipping 0 and one still in flight; a wanted identifier in use is not given twice")
    func wrapAround() {
        var queue = OutgoingQueue()
        let stuck = queue.enqueue(message, qos: .atLeastOnce, retain: false)
        #expect(stuck == 1 && queue.publishNext()?.0 == 1)
        var seen: Set<UInt16> = []
        for _ in 0..<70_000 {
            guard let identifier = queue.enqueue(message, qos: .atLeastOnce, retain: false) else {
                Issue.record("queue refused a message")
                return
            }
            seen.insert(identifier)
            #expect(queue.publishNext()?.0 == identifier)
            #expect(queue.complete(identifier, expecting: .atLeastOnce) != nil)
        }
        #expect(!seen.contains(0) && !seen.contains(1) && seen.count == 65_534)
        #expect(queue.allInOrder.map(\.0) == [1])
        let other = queue.enqueue(message, qos: .atLeastOnce, retain: false, identifier: 1)
        #expect(other != nil && other != 1 && queue.count == 2)
    }
}
