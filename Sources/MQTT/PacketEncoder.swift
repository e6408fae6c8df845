extension MQTTPacket {
    /// The packet's bytes on the wire. Throws for a packet the rules forbid sending.
    package func encoded() throws(MQTTError) -> [UInt8] {
        var body: [UInt8] = []
        var flags: UInt8 = 0
        switch self {
        case let .connect(connect):
            try Self.encode(connect, into: &body)
        case let .connectAcknowledgement(acknowledgement):
            var packet: [UInt8] = []
            packet.appendConnectAcknowledgement(sessionPresent: acknowledgement.sessionPresent, returnCode: acknowledgement.returnCode)
            return packet
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
        case let .publishAcknowledgement(identifier):
            return try Self.acknowledgement(.publishAcknowledgement, identifier)
        case let .publishReceived(identifier):
            return try Self.acknowledgement(.publishReceived, identifier)
        case let .publishRelease(identifier):
            return try Self.acknowledgement(.publishRelease, identifier)
        case let .publishComplete(identifier):
            return try Self.acknowledgement(.publishComplete, identifier)
        case let .unsubscribeAcknowledgement(identifier):
            return try Self.acknowledgement(.unsubscribeAcknowledgement, identifier)
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
            if acknowledgement.packetIdentifier == 0 { throw .zeroPacketIdentifier(packet: "SUBACK") }
            let remainingLength = 2 + acknowledgement.returnCodes.count
            guard remainingLength <= MQTTFramer.largestRemainingLength else {
                throw .packetTooLarge(size: remainingLength, limit: MQTTFramer.largestRemainingLength)
            }
            var packet: [UInt8] = []
            packet.appendSubscribeAcknowledgement(packetIdentifier: acknowledgement.packetIdentifier,
                                                  returnCodes: acknowledgement.returnCodes)
            return packet
        case let .unsubscribe(unsubscribe):
            flags = 0x02
            guard !unsubscribe.filters.isEmpty else { throw .noTopicFilters(packet: "UNSUBSCRIBE") }
            try Self.appendIdentifier(unsubscribe.packetIdentifier, packet: "UNSUBSCRIBE", into: &body)
            for filter in unsubscribe.filters {
                try Topic.validateFilter(filter)
                try body.appendString(filter, field: "topic filter")
            }
        case .pingResponse:
            var packet: [UInt8] = []
            packet.appendPingResponse()
            return packet
        case .pingRequest, .disconnect:
            break
        }
        var packet: [UInt8] = [packetType << 4 | flags]
        packet.reserveCapacity(body.count + 5)
        try packet.appendRemainingLength(body.count)
        packet.append(contentsOf: body)
        return packet
    }

    /// A packet of identifier only, through the same code the broker uses on its hot path.
    private static func acknowledgement(_ kind: IdentifierAcknowledgement, _ identifier: UInt16) throws(MQTTError) -> [UInt8] {
        if identifier == 0 { throw .zeroPacketIdentifier(packet: MQTTPacket.name(ofType: kind.rawValue >> 4)) }
        var packet: [UInt8] = []
        packet.appendAcknowledgement(kind, packetIdentifier: identifier)
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
