extension MQTTPacket {
    /// The packet's bytes on the wire. Throws for a packet the rules forbid sending.
    public func encoded() throws(MQTTError) -> [UInt8] {
        var body: [UInt8] = []
        var flags: UInt8 = 0
        switch self {
        case let .connect(connect):
            try Self.encode(connect, into: &body)
        case let .connectAcknowledgement(acknowledgement):
            body = [acknowledgement.sessionPresent ? 1 : 0, acknowledgement.returnCode.rawValue]
        case let .publish(publish):
            try Topic.validateName(publish.topic)
            if publish.qos == .atMostOnce && publish.duplicate { throw .duplicateWithQoS0 }
            flags = (publish.duplicate ? 0x08 : 0) | publish.qos.rawValue << 1 | (publish.retain ? 0x01 : 0)
            try body.appendString(publish.topic, field: "topic name")
            if publish.qos != .atMostOnce {
                guard let identifier = publish.packetIdentifier, identifier != 0 else { throw .zeroPacketIdentifier(packet: "PUBLISH") }
                body.appendUInt16(identifier)
            }
            body.append(contentsOf: publish.payload)
        case let .publishAcknowledgement(identifier), let .publishReceived(identifier),
             let .publishComplete(identifier), let .unsubscribeAcknowledgement(identifier):
            try Self.appendIdentifier(identifier, packet: MQTTPacket.name(ofType: packetType), into: &body)
        case let .publishRelease(identifier):
            flags = 0x02
            try Self.appendIdentifier(identifier, packet: "PUBREL", into: &body)
        case let .subscribe(subscribe):
            flags = 0x02
            guard !subscribe.subscriptions.isEmpty else { throw .noTopicFilters(packet: "SUBSCRIBE") }
            try Self.appendIdentifier(subscribe.packetIdentifier, packet: "SUBSCRIBE", into: &body)
            for subscription in subscribe.subscriptions {
                try Topic.validateFilter(subscription.filter)
                try body.appendString(subscription.filter, field: "topic filter")
                body.append(subscription.qos.rawValue)
            }
        case let .subscribeAcknowledgement(acknowledgement):
            try Self.appendIdentifier(acknowledgement.packetIdentifier, packet: "SUBACK", into: &body)
            body.append(contentsOf: acknowledgement.returnCodes.map(\.rawValue))
        case let .unsubscribe(unsubscribe):
            flags = 0x02
            guard !unsubscribe.filters.isEmpty else { throw .noTopicFilters(packet: "UNSUBSCRIBE") }
            try Self.appendIdentifier(unsubscribe.packetIdentifier, packet: "UNSUBSCRIBE", into: &body)
            for filter in unsubscribe.filters {
                try Topic.validateFilter(filter)
                try body.appendString(filter, field: "topic filter")
            }
        case .pingRequest, .pingResponse, .disconnect:
            break
        }
        var packet: [UInt8] = [packetType << 4 | flags]
        packet.reserveCapacity(body.count + 5)
        try packet.appendRemainingLength(body.count)
        packet.append(contentsOf: body)
        return packet
    }

    private static func appendIdentifier(_ identifier: UInt16, packet: String, into body: inout [UInt8]) throws(MQTTError) {
        if identifier == 0 { throw .zeroPacketIdentifier(packet: packet) }
        body.appendUInt16(identifier)
    }

    private static func encode(_ connect: Connect, into body: inout [UInt8]) throws(MQTTError) {
        if connect.clientIdentifier.isEmpty && !connect.cleanSession { throw .emptyClientIdentifierWithPersistentSession }
        if connect.password != nil && connect.username == nil { throw .passwordWithoutUsername }
        try body.appendString("MQTT", field: "protocol name")
        body.append(4)
        var flags: UInt8 = connect.cleanSession ? 0x02 : 0
        if let will = connect.will {
            flags |= 0x04 | will.qos.rawValue << 3 | (will.retain ? 0x20 : 0)
        }
        if connect.password != nil { flags |= 0x40 }
        if connect.username != nil { flags |= 0x80 }
        body.append(flags)
        body.appendUInt16(connect.keepAlive)
        try body.appendString(connect.clientIdentifier, field: "client identifier")
        if let will = connect.will {
            try Topic.validateName(will.topic)
            try body.appendString(will.topic, field: "will topic")
            try body.appendBinary(will.payload, field: "will message")
        }
        if let username = connect.username { try body.appendString(username, field: "user name") }
        if let password = connect.password { try body.appendBinary(password, field: "password") }
    }
}
