/// One message for the upstream broker as its store-and-forward queue keeps it: the topic (already
/// in the upstream layout), the payload and the retain flag. The queue stores it as bytes:
///
///   UInt8 flags (bit 0: retain), UInt16 topic length (little-endian), topic (UTF-8), payload
///
/// Everything upstream goes at QoS 1, so the QoS is not stored.
package struct QueuedPublish: Equatable, Sendable {
    package var topic: String
    package var payload: [UInt8]
    package var retain: Bool

    /// The queue record's bytes.
    var encoded: [UInt8] {
        let topicBytes = Array(topic.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(3 + topicBytes.count + payload.count)
        bytes.append(retain ? 1 : 0)
        bytes.append(UInt8(truncatingIfNeeded: topicBytes.count))
        bytes.append(UInt8(truncatingIfNeeded: topicBytes.count >> 8))
        bytes += topicBytes
        bytes += payload
        return bytes
    }

    /// The message a queue record holds; nil if the bytes are not one (the record is skipped).
    init?(decoding bytes: [UInt8]) {
        guard bytes.count >= 3 else { return nil }
        let topicLength = Int(bytes[1]) | Int(bytes[2]) << 8
        guard bytes.count >= 3 + topicLength, topicLength > 0 else { return nil }
        retain = bytes[0] & 1 != 0
        topic = String(decoding: bytes[3..<(3 + topicLength)], as: UTF8.self)
        payload = Array(bytes[(3 + topicLength)...])
    }

    package init(topic: String, payload: [UInt8], retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.retain = retain
    }
}
