/// Quality of service of a message.
package enum QoS: UInt8, Sendable, Comparable, CaseIterable {
    case atMostOnce = 0, atLeastOnce = 1, exactlyOnce = 2

    package static func < (lhs: QoS, rhs: QoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The CONNACK return codes (3.2.2.3).
package enum ConnectReturnCode: UInt8, Sendable, Equatable {
    case accepted = 0
    case unacceptableProtocolVersion = 1
    case identifierRejected = 2
    case serverUnavailable = 3
    case badUsernameOrPassword = 4
    case notAuthorized = 5
}

/// The message a server publishes for a client that goes away without DISCONNECT.
package struct Will: Sendable, Equatable {
    package var topic: String
    package var payload: [UInt8]
    package var qos: QoS
    package var retain: Bool

    package init(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// CONNECT (3.1), protocol level 4.
package struct Connect: Sendable, Equatable {
    package var clientIdentifier: String
    package var cleanSession: Bool
    /// Seconds; 0 turns keep-alive off.
    package var keepAlive: UInt16
    package var will: Will?
    package var username: String?
    package var password: [UInt8]?

    package init(clientIdentifier: String, cleanSession: Bool = true, keepAlive: UInt16 = 60,
                will: Will? = nil, username: String? = nil, password: [UInt8]? = nil) {
        self.clientIdentifier = clientIdentifier
        self.cleanSession = cleanSession
        self.keepAlive = keepAlive
        self.will = will
        self.username = username
        self.password = password
    }
}

/// CONNACK (3.2).
package struct ConnectAcknowledgement: Sendable, Equatable {
    package var sessionPresent: Bool
    package var returnCode: ConnectReturnCode

    package init(sessionPresent: Bool, returnCode: ConnectReturnCode) {
        self.sessionPresent = sessionPresent
        self.returnCode = returnCode
    }
}

/// PUBLISH (3.3).
package struct Publish: Sendable, Equatable {
    package var topic: String
    package var payload: [UInt8]
    package var qos: QoS
    package var retain: Bool
    package var duplicate: Bool
    /// Present exactly when `qos` is 1 or 2.
    package var packetIdentifier: UInt16?

    package init(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false,
                duplicate: Bool = false, packetIdentifier: UInt16? = nil) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.duplicate = duplicate
        self.packetIdentifier = packetIdentifier
    }
}

/// One topic filter of a SUBSCRIBE, with the QoS asked for.
package struct Subscription: Sendable, Equatable {
    package var filter: String
    package var qos: QoS

    package init(filter: String, qos: QoS) {
        self.filter = filter
        self.qos = qos
    }
}

/// SUBSCRIBE (3.8).
package struct Subscribe: Sendable, Equatable {
    package var packetIdentifier: UInt16
    package var subscriptions: [Subscription]

    package init(packetIdentifier: UInt16, subscriptions: [Subscription]) {
        self.packetIdentifier = packetIdentifier
        self.subscriptions = subscriptions
    }
}

/// One SUBACK return code: the QoS granted, or failure (0x80).
package enum SubscribeReturnCode: Sendable, Equatable {
    case granted(QoS)
    case failure

    package var rawValue: UInt8 {
        switch self {
        case let .granted(qos): qos.rawValue
        case .failure: 0x80
        }
    }
}

/// SUBACK (3.9).
package struct SubscribeAcknowledgement: Sendable, Equatable {
    package var packetIdentifier: UInt16
    package var returnCodes: [SubscribeReturnCode]

    package init(packetIdentifier: UInt16, returnCodes: [SubscribeReturnCode]) {
        self.packetIdentifier = packetIdentifier
        self.returnCodes = returnCodes
    }
}

/// UNSUBSCRIBE (3.10).
package struct Unsubscribe: Sendable, Equatable {
    package var packetIdentifier: UInt16
    package var filters: [String]

    package init(packetIdentifier: UInt16, filters: [String]) {
        self.packetIdentifier = packetIdentifier
        self.filters = filters
    }
}

/// Every MQTT 3.1.1 control packet.
package enum MQTTPacket: Sendable, Equatable {
    case connect(Connect)
    case connectAcknowledgement(ConnectAcknowledgement)
    case publish(Publish)
    case publishAcknowledgement(packetIdentifier: UInt16)
    case publishReceived(packetIdentifier: UInt16)
    case publishRelease(packetIdentifier: UInt16)
    case publishComplete(packetIdentifier: UInt16)
    case subscribe(Subscribe)
    case subscribeAcknowledgement(SubscribeAcknowledgement)
    case unsubscribe(Unsubscribe)
    case unsubscribeAcknowledgement(packetIdentifier: UInt16)
    case pingRequest
    case pingResponse
    case disconnect

    /// The packet type in the fixed header's high nibble.
    package var packetType: UInt8 {
        switch self {
        case .connect: 1
        case .connectAcknowledgement: 2
        case .publish: 3
        case .publishAcknowledgement: 4
        case .publishReceived: 5
        case .publishRelease: 6
        case .publishComplete: 7
        case .subscribe: 8
        case .subscribeAcknowledgement: 9
        case .unsubscribe: 10
        case .unsubscribeAcknowledgement: 11
        case .pingRequest: 12
        case .pingResponse: 13
        case .disconnect: 14
        }
    }

    /// The packet's name in the specification, for errors and logs.
    package static func name(ofType type: UInt8) -> String {
        names[Int(type & 0x0F)]
    }

    private static let names = ["reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
                                "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "reserved"]
}
