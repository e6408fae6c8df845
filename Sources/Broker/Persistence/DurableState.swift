import MQTT

/// The state the records describe, rebuilt by replay.
///
/// `apply` is total: a record that refers to something absent changes nothing. In particular,
/// every record about a session (`subscribe`, `enqueue`, `release`, ...) is ignored unless an
/// `openSession` for that client came first and no `closeSession` since; so the engine must append
/// `openSession` before anything else of a persistent session, and a clean session (whose state
/// must not outlive its connection) simply never gets one.
package struct DurableState: Equatable, Sendable {
    /// An outgoing QoS 1/2 message of a session, not yet completed.
    package struct Outgoing: Equatable, Sendable {
        package var packetIdentifier: UInt16
        package var message: StoredMessage
        /// QoS 2: PUBREC received and PUBREL sent, so on reconnect the PUBREL is resent.
        package var released: Bool

        /// An outgoing message (not released unless said).
        package init(packetIdentifier: UInt16, message: StoredMessage, released: Bool = false) {
            self.packetIdentifier = packetIdentifier
            self.message = message
            self.released = released
        }
    }

    /// A persistent session: subscriptions, outgoing messages, inbound QoS 2 awaiting PUBREL.
    package struct Session: Equatable, Sendable {
        package var subscriptions: [String: QoS]
        package var awaitingRelease: Set<UInt16>

        // Completed messages leave a hole (nil) that is swept once holes are half the queue:
        // draining a long queue from the front then costs O(1) per message, where
        // `Array.remove(at: 0)` would make replaying a drained queue quadratic.
        private var queue: [Outgoing?] = []
        private var holes = 0
        /// Index in `queue` of each queued packet identifier.
        private var positions: [UInt16: Int] = [:]

        /// A session with these contents.
        package init(subscriptions: [String: QoS] = [:], outgoing: [Outgoing] = [], awaitingRelease: Set<UInt16> = []) {
            self.subscriptions = subscriptions
            self.awaitingRelease = awaitingRelease
            self.outgoing = outgoing
        }

        /// Outgoing messages in enqueue order, each packet identifier once (a later one replaces
        /// an earlier one with the same identifier, as `enqueue` does).
        package var outgoing: [Outgoing] {
            get { queue.compactMap { $0 } }
            set {
                queue = []
                holes = 0
                positions = [:]
                for message in newValue { enqueue(message) }
            }
        }

        /// Number of outgoing messages (without building the array).
        package var outgoingCount: Int { queue.count - holes }

        /// The outgoing message with this packet identifier, if queued.
        package func outgoing(packetIdentifier: UInt16) -> Outgoing? {
            positions[packetIdentifier].flatMap { queue[$0] }
        }

        package static func == (lhs: Session, rhs: Session) -> Bool {
            lhs.subscriptions == rhs.subscriptions && lhs.awaitingRelease == rhs.awaitingRelease
                && lhs.queue.lazy.compactMap { $0 }.elementsEqual(rhs.queue.lazy.compactMap { $0 })
        }

        /// Appends `message`; one already queued with its packet identifier is removed first, so
        /// an identifier always names one message.
        mutating func enqueue(_ message: Outgoing) {
            complete(message.packetIdentifier)
            positions[message.packetIdentifier] = queue.count
            queue.append(message)
        }

        mutating func release(_ packetIdentifier: UInt16) {
            guard let position = positions[packetIdentifier] else { return }
            queue[position]?.released = true
        }

        mutating func complete(_ packetIdentifier: UInt16) {
            guard let position = positions.removeValue(forKey: packetIdentifier) else { return }
            queue[position] = nil
            holes += 1
            if holes == queue.count {
                queue.removeAll(keepingCapacity: true)
                holes = 0
            } else if holes * 2 > queue.count {
                sweep()
            }
        }

        /// Drops the holes and renumbers the positions.
        private mutating func sweep() {
            queue = queue.filter { $0 != nil }
            holes = 0
            positions.removeAll(keepingCapacity: true)
            for (position, message) in queue.enumerated() {
                if let message { positions[message.packetIdentifier] = position }
            }
        }
    }

    /// Retained messages by topic (the key is the message's topic).
    package var retained: [String: StoredMessage]
    /// Persistent sessions by client identifier.
    package var sessions: [String: Session]
    /// The last message of each permanent topic, by topic.
    package var permanent: [String: StoredMessage]

    /// No retained messages, no sessions.
    package init() {
        retained = [:]
        sessions = [:]
        permanent = [:]
    }

    /// Applies one change; a record about a session that is not open, or about a packet
    /// identifier that is not there, changes nothing (see the type's comment).
    package mutating func apply(_ record: StoreRecord) {
        switch record {
        case let .retain(message):
            retained[message.topic] = message
        case let .clearRetained(topic):
            retained[topic] = nil
        case let .permanent(message):
            permanent[message.topic] = message
        case let .openSession(clientID):
            if sessions[clientID] == nil { sessions[clientID] = Session() }
        case let .closeSession(clientID):
            sessions[clientID] = nil
        case let .subscribe(clientID, filter, qos):
            sessions[clientID]?.subscriptions[filter] = qos
        case let .unsubscribe(clientID, filter):
            sessions[clientID]?.subscriptions[filter] = nil
        case let .enqueue(clientID, packetIdentifier, message):
            sessions[clientID]?.enqueue(Outgoing(packetIdentifier: packetIdentifier, message: message))
        case let .release(clientID, packetIdentifier):
            sessions[clientID]?.release(packetIdentifier)
        case let .complete(clientID, packetIdentifier):
            sessions[clientID]?.complete(packetIdentifier)
        case let .awaitRelease(clientID, packetIdentifier):
            sessions[clientID]?.awaitingRelease.insert(packetIdentifier)
        case let .released(clientID, packetIdentifier):
            sessions[clientID]?.awaitingRelease.remove(packetIdentifier)
        }
    }

    /// Records that rebuild exactly this state when applied to an empty state. Sorted by topic,
    /// client, filter and identifier (outgoing messages keep their order), so the same state
    /// always gives the same bytes.
    package func snapshotRecords() -> [StoreRecord] {
        var records: [StoreRecord] = []
        for topic in retained.keys.sorted() {
            if let message = retained[topic] { records.append(.retain(message)) }
        }
        for topic in permanent.keys.sorted() {
            if let message = permanent[topic] { records.append(.permanent(message)) }
        }
        for clientID in sessions.keys.sorted() {
            guard let session = sessions[clientID] else { continue }
            records.append(.openSession(clientID: clientID))
            for filter in session.subscriptions.keys.sorted() {
                if let qos = session.subscriptions[filter] {
                    records.append(.subscribe(clientID: clientID, filter: filter, qos: qos))
                }
            }
            for outgoing in session.outgoing {
                records.append(.enqueue(clientID: clientID, packetIdentifier: outgoing.packetIdentifier, message: outgoing.message))
                if outgoing.released {
                    records.append(.release(clientID: clientID, packetIdentifier: outgoing.packetIdentifier))
                }
            }
            for packetIdentifier in session.awaitingRelease.sorted() {
                records.append(.awaitRelease(clientID: clientID, packetIdentifier: packetIdentifier))
            }
        }
        return records
    }
}

extension DurableState.Session: CustomReflectable {
    /// Shows the outgoing messages in order (in test failures, say), not the queue's holes and index.
    package var customMirror: Mirror {
        Mirror(self, children: ["subscriptions": subscriptions, "outgoing": outgoing, "awaitingRelease": awaitingRelease])
    }
}
