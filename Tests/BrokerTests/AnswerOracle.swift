import MQTT
import TestSupport

/// A small model of what an MQTT 3.1.1 server may answer to one client's byte stream that ends
/// with the client closing its side: the answers it owes, in order, for each packet up to the
/// first one that must close the connection, then the close. Deliveries (PUBLISH, and PUBREL for
/// a delivery in flight) may come between them once the CONNECT is accepted.
struct AnswerOracle {
    /// An answer a packet of the stream is owed.
    enum Owed: Equatable, CustomStringConvertible {
        case connectAcknowledgement(code: ConnectReturnCode, cleanSession: Bool)
        case publishAcknowledgement(UInt16)
        case publishReceived(UInt16)
        case publishComplete(UInt16)
        case subscribeAcknowledgement(UInt16, requested: [QoS])
        case unsubscribeAcknowledgement(UInt16)
        case pingResponse

        var description: String {
            switch self {
            case let .connectAcknowledgement(code, _): "CONNACK \(code.rawValue)"
            case let .publishAcknowledgement(id): "PUBACK \(id)"
            case let .publishReceived(id): "PUBREC \(id)"
            case let .publishComplete(id): "PUBCOMP \(id)"
            case let .subscribeAcknowledgement(id, requested): "SUBACK \(id) ×\(requested.count)"
            case let .unsubscribeAcknowledgement(id): "UNSUBACK \(id)"
            case .pingResponse: "PINGRESP"
            }
        }
    }

    private(set) var owed: [Owed] = []

    /// Reads `stream` as the server does (the MQTT module's decoder applies the byte rules) and
    /// notes what each packet is owed, until a packet that ends the connection.
    init(stream: [UInt8]) {
        var framer = MQTTFramer()
        framer.append(stream)
        var connected = false
        while true {
            let packet: MQTTPacket
            do {
                guard let next = try framer.next() else { return }  // cut short: the end closes
                packet = next
            } catch {
                // 3.1.4: CONNACK 1 for a protocol level, 2 for a client id, then the close; any
                // other broken rule closes without an answer.
                if !connected, let code = error.connectReturnCode {
                    owed.append(.connectAcknowledgement(code: code, cleanSession: true))
                }
                return
            }
            guard connected else {
                // 3.1.0-1: the first packet must be CONNECT.
                guard case let .connect(connect) = packet else { return }
                owed.append(.connectAcknowledgement(code: .accepted, cleanSession: connect.cleanSession))
                connected = true
                continue
            }
            switch packet {
            case let .publish(publish):
                // 3.3.4: QoS 1 → PUBACK, QoS 2 → PUBREC, with the packet's identifier.
                if publish.qos == .atLeastOnce { owed.append(.publishAcknowledgement(publish.packetIdentifier ?? 0)) }
                if publish.qos == .exactlyOnce { owed.append(.publishReceived(publish.packetIdentifier ?? 0)) }
            case let .publishRelease(identifier):
                owed.append(.publishComplete(identifier))  // 3.6.4
            case .publishAcknowledgement, .publishReceived, .publishComplete:
                break  // owe nothing (a PUBREC may release a PUBREL: a delivery, allowed)
            case let .subscribe(subscribe):
                owed.append(.subscribeAcknowledgement(subscribe.packetIdentifier, requested: subscribe.subscriptions.map(\.qos)))
            case let .unsubscribe(unsubscribe):
                owed.append(.unsubscribeAcknowledgement(unsubscribe.packetIdentifier))
            case .pingRequest:
                owed.append(.pingResponse)
            case .disconnect, .connect, .connectAcknowledgement, .subscribeAcknowledgement,
                 .unsubscribeAcknowledgement, .pingResponse:
                // DISCONNECT (3.14.4), a second CONNECT (3.1.0-2), a server's packet: the close.
                return
            }
        }
    }

    /// Nil if the server's answer is one the specification allows, every owed answer in its
    /// place and the connection closed; otherwise the rule it broke.
    func violation(in answer: RawExchange) -> String? {
        guard answer.closed else { return "the connection is still open after the end of the stream" }
        let packets: [MQTTPacket]
        switch answer.packets {
        case let .success(decoded): packets = decoded
        case let .failure(error): return "undecodable answer: \(error)"
        }
        var expected = owed[...]
        var accepted = false
        var refused = false
        for packet in packets {
            if refused { return "\(MQTTPacket.name(ofType: packet.packetType)) after a refusing CONNACK" }
            switch packet {
            case let .connectAcknowledgement(acknowledgement):
                guard case let .connectAcknowledgement(code, cleanSession)? = expected.first else {
                    return accepted ? "a second CONNACK" : "CONNACK not owed (\(acknowledgement.returnCode))"
                }
                expected.removeFirst()
                if acknowledgement.returnCode != code { return "CONNACK \(acknowledgement.returnCode.rawValue), owed \(code.rawValue)" }
                // 3.2.2.2: session present 0 for a clean session and for any refusal.
                if acknowledgement.sessionPresent && (cleanSession || code != .accepted) { return "session present 1 not allowed here" }
                if code == .accepted { accepted = true } else { refused = true }
            case .publish, .publishRelease:
                guard accepted else { return "\(MQTTPacket.name(ofType: packet.packetType)) before CONNACK" }
            default:
                guard accepted else { return "\(MQTTPacket.name(ofType: packet.packetType)) before CONNACK" }
                guard let next = expected.first else { return "\(MQTTPacket.name(ofType: packet.packetType)) not owed" }
                if let problem = Self.mismatch(packet, next) { return problem }
                expected.removeFirst()
            }
        }
        if !expected.isEmpty { return "owed and not sent before the close: \(expected.map(\.description).joined(separator: ", "))" }
        return nil
    }

    private static func mismatch(_ packet: MQTTPacket, _ owed: Owed) -> String? {
        let problem = "\(packet) where \(owed) is owed"
        switch (packet, owed) {
        case let (.publishAcknowledgement(got), .publishAcknowledgement(want)),
             let (.publishReceived(got), .publishReceived(want)),
             let (.publishComplete(got), .publishComplete(want)),
             let (.unsubscribeAcknowledgement(got), .unsubscribeAcknowledgement(want)):
            return got == want ? nil : problem
        case (.pingResponse, .pingResponse):
            return nil
        case let (.subscribeAcknowledgement(acknowledgement), .subscribeAcknowledgement(identifier, requested)):
            // 3.9.3: one code per filter, in order; a grant is at most the QoS asked for.
            guard acknowledgement.packetIdentifier == identifier, acknowledgement.returnCodes.count == requested.count else { return problem }
            for (code, asked) in zip(acknowledgement.returnCodes, requested) {
                if case let .granted(qos) = code, qos > asked { return problem }
            }
            return nil
        default:
            return problem
        }
    }
}
