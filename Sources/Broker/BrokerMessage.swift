import MQTT

/// A published message kept by the broker: retained, queued for a QoS 1 or 2 delivery, or
/// handed to an in-process client. Shared by every session it reaches. QoS 0 deliveries to
/// sockets do without one: they are encoded straight from the bytes received.
/// Used on the reactor thread only.
final class BrokerMessage {
    let topic: String
    let payload: [UInt8]
    /// The QoS it was published with (the ceiling for every delivery).
    let qos: QoS
    /// The RETAIN flag it was published with.
    let retain: Bool

    init(topic: String, payload: [UInt8], qos: QoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// Appends this message as a PUBLISH to `output`. Encoded for each delivery rather than
    /// cached: a few appends, about what copying a cached encoding costs, and no second copy.
    func append(to output: inout [UInt8], qos: QoS, retain: Bool, duplicate: Bool = false, packetIdentifier: UInt16 = 0) {
        output.appendCheckedPublish(topic: topic, payload: payload[...], qos: qos, retain: retain,
                                    duplicate: duplicate, packetIdentifier: packetIdentifier)
    }

    /// The same message under another topic name (an alias presentation).
    func renamed(to topic: String) -> BrokerMessage {
        BrokerMessage(topic: topic, payload: payload, qos: qos, retain: retain)
    }
}
