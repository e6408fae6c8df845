import MQTT

/// A message kept for a client or as a retained message.
package struct StoredMessage: Equatable, Sendable {
    package var topic: String
    package var payload: [UInt8]
    package var qos: QoS
    package var retain: Bool

    /// A message as stored (`topic` at most 65,535 UTF-8 bytes, as MQTT requires).
    package init(topic: String, payload: [UInt8], qos: QoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// One change to the broker's durable state. See `DurableState.apply` for what each one does.
package enum StoreRecord: Equatable, Sendable {
    /// Sets the retained message of `message.topic`.
    case retain(StoredMessage)
    /// Removes the retained message of `topic`.
    case clearRetained(topic: String)
    /// A persistent session exists (clean-session 0); an existing one is kept as it is.
    case openSession(clientID: String)
    /// The session and everything under it is gone.
    case closeSession(clientID: String)
    /// Adds or replaces a subscription of the session.
    case subscribe(clientID: String, filter: String, qos: QoS)
    /// Removes a subscription of the session.
    case unsubscribe(clientID: String, filter: String)
    /// An outgoing QoS 1/2 message for the session, queued after the ones before it.
    case enqueue(clientID: String, packetIdentifier: UInt16, message: StoredMessage)
    /// QoS 2 outgoing: PUBREC received, PUBREL sent.
    case release(clientID: String, packetIdentifier: UInt16)
    /// An outgoing message is done (PUBACK or PUBCOMP received) or dropped.
    case complete(clientID: String, packetIdentifier: UInt16)
    /// An inbound QoS 2 PUBLISH was received; its PUBREL is awaited.
    case awaitRelease(clientID: String, packetIdentifier: UInt16)
    /// The inbound PUBREL was received.
    case released(clientID: String, packetIdentifier: UInt16)
    /// The last message of a permanent topic (IOT-CORE.md), replacing the one before.
    case permanent(StoredMessage)
}

// MARK: - Binary form (the payload of one log frame; see WriteAheadLog.swift for the framing)

extension StoreRecord {
    /// The first byte of an encoded record. Values are part of the file format: never renumber.
    fileprivate enum Kind: UInt8 {
        case retain = 1, clearRetained, openSession, closeSession, subscribe, unsubscribe
        case enqueue, release, complete, awaitRelease, released
        case permanent
    }

    /// Appends the record's binary form (type byte, then its fields, little-endian).
    func encode(into bytes: inout [UInt8]) {
        switch self {
        case let .retain(message):
            bytes.append(Kind.retain.rawValue)
            bytes.appendMessage(message)
        case let .clearRetained(topic):
            bytes.append(Kind.clearRetained.rawValue)
            bytes.appendString(topic)
        case let .openSession(clientID):
            bytes.append(Kind.openSession.rawValue)
            bytes.appendString(clientID)
        case let .closeSession(clientID):
            bytes.append(Kind.closeSession.rawValue)
            bytes.appendString(clientID)
        case let .subscribe(clientID, filter, qos):
            bytes.append(Kind.subscribe.rawValue)
            bytes.appendString(clientID)
            bytes.appendString(filter)
            bytes.append(qos.rawValue)
        case let .unsubscribe(clientID, filter):
            bytes.append(Kind.unsubscribe.rawValue)
            bytes.appendString(clientID)
            bytes.appendString(filter)
        case let .enqueue(clientID, packetIdentifier, message):
            bytes.append(Kind.enqueue.rawValue)
            bytes.appendString(clientID)
            bytes.appendLittleEndian(packetIdentifier)
            bytes.appendMessage(message)
        case let .release(clientID, packetIdentifier):
            bytes.appendIdentified(.release, clientID, packetIdentifier)
        case let .complete(clientID, packetIdentifier):
            bytes.appendIdentified(.complete, clientID, packetIdentifier)
        case let .awaitRelease(clientID, packetIdentifier):
            bytes.appendIdentified(.awaitRelease, clientID, packetIdentifier)
        case let .released(clientID, packetIdentifier):
            bytes.appendIdentified(.released, clientID, packetIdentifier)
        case let .permanent(message):
            bytes.append(Kind.permanent.rawValue)
            bytes.appendMessage(message)
        }
    }

    /// The record encoded in `bytes[range]`, or nil if those bytes are not exactly one record.
    /// Never traps: every read checks the bytes that are left.
    static func decode(_ bytes: [UInt8], in range: Range<Int>) -> StoreRecord? {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else { return nil }
        var reader = StoreRecordReader(bytes: bytes, index: range.lowerBound, end: range.upperBound)
        guard let kind = reader.byte().flatMap(Kind.init(rawValue:)) else { return nil }
        let record: StoreRecord?
        switch kind {
        case .retain:
            record = reader.message().map { .retain($0) }
        case .permanent:
            record = reader.message().map { .permanent($0) }
        case .clearRetained:
            record = reader.string().map { .clearRetained(topic: $0) }
        case .openSession:
            record = reader.string().map { .openSession(clientID: $0) }
        case .closeSession:
            record = reader.string().map { .closeSession(clientID: $0) }
        case .subscribe:
            guard let clientID = reader.string(), let filter = reader.string(), let qos = reader.qos() else { return nil }
            record = .subscribe(clientID: clientID, filter: filter, qos: qos)
        case .unsubscribe:
            guard let clientID = reader.string(), let filter = reader.string() else { return nil }
            record = .unsubscribe(clientID: clientID, filter: filter)
        case .enqueue:
            guard let clientID = reader.string(), let identifier = reader.uint16(), let message = reader.message() else { return nil }
            record = .enqueue(clientID: clientID, packetIdentifier: identifier, message: message)
        case .release, .complete, .awaitRelease, .released:
            guard let clientID = reader.string(), let identifier = reader.uint16() else { return nil }
            switch kind {
            case .release: record = .release(clientID: clientID, packetIdentifier: identifier)
            case .complete: record = .complete(clientID: clientID, packetIdentifier: identifier)
            case .awaitRelease: record = .awaitRelease(clientID: clientID, packetIdentifier: identifier)
            default: record = .released(clientID: clientID, packetIdentifier: identifier)
            }
        }
        // Bytes left over mean the frame is not what we wrote.
        return reader.isAtEnd ? record : nil
    }
}

extension [UInt8] {
    fileprivate mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        for shift in stride(from: 0, to: Value.bitWidth, by: 8) {
            append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    /// UInt16 length, then the UTF-8 bytes. MQTT caps topics, filters and client identifiers at
    /// 65,535 bytes, so a longer one is a bug in the caller, not data to truncate silently.
    fileprivate mutating func appendString(_ text: String) {
        let utf8 = text.utf8
        precondition(utf8.count <= Int(UInt16.max), "a stored string is longer than 65,535 UTF-8 bytes")
        appendLittleEndian(UInt16(utf8.count))
        append(contentsOf: utf8)
    }

    /// Topic, QoS byte, retain byte (0 or 1), UInt32 payload length, payload.
    fileprivate mutating func appendMessage(_ message: StoredMessage) {
        appendString(message.topic)
        append(message.qos.rawValue)
        append(message.retain ? 1 : 0)
        precondition(message.payload.count <= Int(UInt32.max), "a stored payload is larger than 4 GiB")
        appendLittleEndian(UInt32(message.payload.count))
        append(contentsOf: message.payload)
    }

    fileprivate mutating func appendIdentified(_ kind: StoreRecord.Kind, _ clientID: String, _ identifier: UInt16) {
        append(kind.rawValue)
        appendString(clientID)
        appendLittleEndian(identifier)
    }
}

/// Reads little-endian fields from `bytes[index..<end]`; nil when the bytes run out or are invalid.
struct StoreRecordReader {
    let bytes: [UInt8]
    var index: Int
    let end: Int

    var isAtEnd: Bool { index == end }

    mutating func byte() -> UInt8? {
        guard index < end else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint16() -> UInt16? { littleEndian() }
    mutating func uint32() -> UInt32? { littleEndian() }

    private mutating func littleEndian<Value: FixedWidthInteger>() -> Value? {
        let size = Value.bitWidth / 8
        guard end - index >= size else { return nil }
        var value: Value = 0
        for offset in 0..<size {
            value |= Value(bytes[index + offset]) << (offset * 8)
        }
        index += size
        return value
    }

    mutating func count(_ length: Int) -> ArraySlice<UInt8>? {
        guard length >= 0, end - index >= length else { return nil }
        defer { index += length }
        return bytes[index..<index + length]
    }

    /// UInt16 length, then that many bytes of valid UTF-8.
    mutating func string() -> String? {
        guard let length = uint16(), let slice = count(Int(length)) else { return nil }
        return String(validating: slice, as: UTF8.self)
    }

    mutating func qos() -> QoS? { byte().flatMap(QoS.init(rawValue:)) }

    mutating func bool() -> Bool? {
        switch byte() {
        case 0: false
        case 1: true
        default: nil
        }
    }

    mutating func message() -> StoredMessage? {
        guard let topic = string(), let qos = qos(), let retain = bool(),
              let length = uint32(), let payload = count(Int(length)) else { return nil }
        return StoredMessage(topic: topic, payload: Array(payload), qos: qos, retain: retain)
    }
}
