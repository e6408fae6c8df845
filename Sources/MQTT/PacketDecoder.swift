extension MQTTPacket {
    /// Decodes one packet from its first fixed-header byte and its body (`range` of `bytes`),
    /// applying every rule of the specification that the bytes alone can break.
    static func decode(header: UInt8, bytes: [UInt8], body range: Range<Int>) throws(MQTTError) -> MQTTPacket {
        let type = header >> 4
        let flags = header & 0x0F
        let name = MQTTPacket.name(ofType: type)
        var reader = PacketReader(packet: name, bytes: bytes, range: range)

        // Fixed-header flags (2.2.2): PUBLISH carries DUP/QoS/RETAIN; PUBREL, SUBSCRIBE and
        // UNSUBSCRIBE must have 0010; every other packet 0000.
        switch type {
        case 0, 15: throw .reservedPacketType(type)
        case 3: break
        case 6, 8, 10: if flags != 0x02 { throw .invalidFlags(packet: name, flags: flags) }
        default: if flags != 0 { throw .invalidFlags(packet: name, flags: flags) }
        }

        switch type {
        case 1:
            return .connect(try decodeConnect(&reader))
        case 2:
            let acknowledgeFlags = try reader.byte("acknowledge flags")
            if acknowledgeFlags & 0xFE != 0 { throw .invalidConnectAcknowledgeFlags(acknowledgeFlags) }
            let code = try reader.byte("return code")
            guard let returnCode = ConnectReturnCode(rawValue: code) else { throw .invalidConnectReturnCode(code) }
            try reader.expectEnd()
            return .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: acknowledgeFlags == 1, returnCode: returnCode))
        case 3:
            var noTopicYet = ""
            return .publish(try InboundPublish(flags: flags, reader: &reader, lastTopic: &noTopicYet).publish)
        case 4, 5, 6, 7, 11:
            let identifier = try reader.packetIdentifier()
            try reader.expectEnd()
            switch type {
            case 4: return .publishAcknowledgement(packetIdentifier: identifier)
            case 5: return .publishReceived(packetIdentifier: identifier)
            case 6: return .publishRelease(packetIdentifier: identifier)
            case 7: return .publishComplete(packetIdentifier: identifier)
            default: return .unsubscribeAcknowledgement(packetIdentifier: identifier)
            }
        case 8:
            let identifier = try reader.packetIdentifier()
            var subscriptions: [Subscription] = []
            while !reader.isAtEnd {
                let filter = try reader.string("topic filter")
                try Topic.validateFilter(filter)
                let options = try reader.byte("requested QoS")
                if options & 0xFC != 0 { throw .reservedSubscriptionBits(options) }
                guard let qos = QoS(rawValue: options) else { throw .invalidQoS(options) }
                subscriptions.append(Subscription(filter: filter, qos: qos))
            }
            if subscriptions.isEmpty { throw .noTopicFilters(packet: name) }
            return .subscribe(Subscribe(packetIdentifier: identifier, subscriptions: subscriptions))
        case 9:
            let identifier = try reader.packetIdentifier()
            var codes: [SubscribeReturnCode] = []
            while !reader.isAtEnd {
                let code = try reader.byte("return code")
                if code == 0x80 {
                    codes.append(.failure)
                } else if let qos = QoS(rawValue: code) {
                    codes.append(.granted(qos))
                } else {
                    throw .invalidSubscribeReturnCode(code)
                }
            }
            return .subscribeAcknowledgement(SubscribeAcknowledgement(packetIdentifier: identifier, returnCodes: codes))
        case 10:
            let identifier = try reader.packetIdentifier()
            var filters: [String] = []
            while !reader.isAtEnd {
                let filter = try reader.string("topic filter")
                try Topic.validateFilter(filter)
                filters.append(filter)
            }
            if filters.isEmpty { throw .noTopicFilters(packet: name) }
            return .unsubscribe(Unsubscribe(packetIdentifier: identifier, filters: filters))
        default:
            try reader.expectEnd()
            switch type {
            case 12: return .pingRequest
            case 13: return .pingResponse
            default: return .disconnect
            }
        }
    }

    private static func decodeConnect(_ reader: inout PacketReader) throws(MQTTError) -> Connect {
        let protocolName = try reader.string("protocol name")
        guard protocolName == "MQTT" else { throw .invalidProtocolName(protocolName) }
        let level = try reader.byte("protocol level")
        guard level == 4 else { throw .unacceptableProtocolLevel(level) }
        let flags = try reader.byte("connect flags")
        if flags & 0x01 != 0 { throw .reservedConnectFlagSet }
        let cleanSession = flags & 0x02 != 0
        let hasWill = flags & 0x04 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & 0x20 != 0
        let hasPassword = flags & 0x40 != 0
        let hasUsername = flags & 0x80 != 0
        if !hasWill && (willQoSBits != 0 || willRetain) { throw .willFlagsWithoutWill }
        guard let willQoS = QoS(rawValue: willQoSBits) else { throw .invalidQoS(willQoSBits) }
        if hasPassword && !hasUsername { throw .passwordWithoutUsername }
        let keepAlive = try reader.uint16("keep alive")

        let clientIdentifier = try reader.string("client identifier")
        if clientIdentifier.isEmpty && !cleanSession { throw .emptyClientIdentifierWithPersistentSession }
        var will: Will?
        if hasWill {
            let topic = try reader.string("will topic")
            try Topic.validateName(topic)
            will = Will(topic: topic, payload: try reader.binary("will message"), qos: willQoS, retain: willRetain)
        }
        let username = hasUsername ? try reader.string("user name") : nil
        let password = hasPassword ? try reader.binary("password") : nil
        try reader.expectEnd()
        return Connect(clientIdentifier: clientIdentifier, cleanSession: cleanSession, keepAlive: keepAlive,
                       will: will, username: username, password: password)
    }
}
