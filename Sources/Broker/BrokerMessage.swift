import MQTT

/// A published message on its way through the broker: shared by every session it reaches, and
/// encoded once however many subscribers get it.
///
/// Two PUBLISH layouts are cached: without a packet identifier (QoS 0) and with one (QoS 1 and
/// 2). A delivery copies the cached bytes and patches the first byte (DUP, QoS, RETAIN) and the
/// two identifier bytes. Used on the reactor thread only.
final class BrokerMessage {
    let topic: String
    let payload: [UInt8]
    /// The QoS it was published with (the ceiling for every delivery).
    let qos: QoS
    /// The RETAIN flag it was published with.
    let retain: Bool

    private var withoutIdentifier: [UInt8]?
    private var withIdentifier: (bytes: [UInt8], identifierOffset: Int)?

    init(topic: String, payload: [UInt8], qos: QoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// Appends this message as a PUBLISH to `output`.
    func append(to output: inout [UInt8], qos: QoS, retain: Bool, duplicate: Bool = false, packetIdentifier: UInt16 = 0) {
        let flags: UInt8 = 0x30 | (duplicate ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
        let start = output.count
        if qos == .atMostOnce {
            let bytes = withoutIdentifier ?? encode(identifier: false).bytes
            withoutIdentifier = bytes
            output.append(contentsOf: bytes)
        } else {
            let (bytes, offset) = withIdentifier ?? encode(identifier: true)
            withIdentifier = (bytes, offset)
            output.append(contentsOf: bytes)
            output[start + offset] = UInt8(packetIdentifier >> 8)
            output[start + offset + 1] = UInt8(packetIdentifier & 0xFF)
        }
        output[start] = flags
    }

    /// The PUBLISH bytes with flags 0 and identifier 0; the offset of the identifier.
    private func encode(identifier: Bool) -> (bytes: [UInt8], identifierOffset: Int) {
        let topicBytes = topic.utf8.count
        let remaining = 2 + topicBytes + (identifier ? 2 : 0) + payload.count
        var bytes: [UInt8] = [0x30]
        bytes.reserveCapacity(remaining + 5)
        bytes.appendCheckedRemainingLength(remaining)
        bytes.append(UInt8(topicBytes >> 8))
        bytes.append(UInt8(topicBytes & 0xFF))
        bytes.append(contentsOf: topic.utf8)
        let offset = bytes.count
        if identifier { bytes.append(contentsOf: [0, 0]) }
        bytes.append(contentsOf: payload)
        return (bytes, offset)
    }

    /// The same message under another topic name (an alias presentation).
    func renamed(to topic: String) -> BrokerMessage {
        BrokerMessage(topic: topic, payload: payload, qos: qos, retain: retain)
    }
}
