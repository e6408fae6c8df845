/// A packet as a framer hands it to a server: a PUBLISH with its payload still in the receive
/// buffer (a broker that forwards it copies it once, straight to where it goes), every other
/// packet decoded in full.
package enum InboundPacket: Sendable, Equatable {
    case publish(InboundPublish)
    case other(MQTTPacket)

    /// The packet with everything copied out of the receive buffer.
    package var packet: MQTTPacket {
        switch self {
        case let .publish(publish): .publish(publish.publish)
        case let .other(packet): packet
        }
    }

    /// Decodes one packet from its first fixed-header byte and its body (`range` of `bytes`).
    /// `lastTopic` is the connection's last PUBLISH topic, reused when the bytes are the same.
    static func decode(header: UInt8, bytes: [UInt8], body range: Range<Int>, lastTopic: inout String) throws(MQTTError) -> InboundPacket {
        guard header >> 4 == 3 else {
            return .other(try MQTTPacket.decode(header: header, bytes: bytes, body: range))
        }
        var reader = PacketReader(packet: "PUBLISH", bytes: bytes, range: range)
        return .publish(try InboundPublish(flags: header & 0x0F, reader: &reader, lastTopic: &lastTopic))
    }
}

/// PUBLISH (3.3) as received: checked like every packet, the payload a slice of the bytes it
/// came in.
package struct InboundPublish: Sendable, Equatable {
    package var topic: String
    package var payload: ArraySlice<UInt8>
    package var qos: QoS
    package var retain: Bool
    package var duplicate: Bool
    /// Present exactly when `qos` is 1 or 2.
    package var packetIdentifier: UInt16?

    /// A PUBLISH built in memory (a packet that did not come through a framer).
    package init(_ publish: Publish) {
        topic = publish.topic
        payload = publish.payload[...]
        qos = publish.qos
        retain = publish.retain
        duplicate = publish.duplicate
        packetIdentifier = publish.packetIdentifier
    }

    /// The body after the fixed header, whose flags (DUP, QoS, RETAIN) are `flags`.
    init(flags: UInt8, reader: inout PacketReader, lastTopic: inout String) throws(MQTTError) {
        guard let qos = QoS(rawValue: (flags >> 1) & 0x03) else { throw .invalidQoS((flags >> 1) & 0x03) }
        let duplicate = flags & 0x08 != 0
        if qos == .atMostOnce && duplicate { throw .duplicateWithQoS0 }
        self.topic = try reader.topicName(reusing: &lastTopic)
        self.packetIdentifier = qos == .atMostOnce ? nil : try reader.packetIdentifier()
        self.payload = reader.rest()
        self.qos = qos
        self.retain = flags & 0x01 != 0
        self.duplicate = duplicate
    }

    /// The message with its payload copied out.
    package var publish: Publish {
        Publish(topic: topic, payload: Array(payload), qos: qos, retain: retain, duplicate: duplicate, packetIdentifier: packetIdentifier)
    }
}
