import MQTT
import MQTTClient
import Testing

/// The client protocol without a socket: bytes and instants in, actions compared as values.
@Suite("The MQTT client connection state machine, time moved by the test")
struct ClientConnectionStateMachineTests {
    typealias Machine = ClientConnectionStateMachine<ContinuousClock>
    typealias Action = Machine.Action

    let start = ContinuousClock.now
    func at(_ seconds: Int) -> ContinuousClock.Instant { start.advanced(by: .seconds(seconds)) }

    func bytes(_ packet: MQTTPacket) throws -> [UInt8] { try packet.encoded() }

    /// A machine past CONNECT/CONNACK at `start`, with the given keep-alive.
    func connectedMachine(keepAlive: UInt16 = 0) throws -> Machine {
        var machine = Machine(connect: Connect(clientIdentifier: "c1", keepAlive: keepAlive), connectTimeout: .seconds(10),
                              peer: "broker:1883")
        _ = machine.transportConnected(at: start)
        let accepted = try machine.received(bytes(.connectAcknowledgement(.init(sessionPresent: false, returnCode: .accepted))),
                                            at: start)
        #expect(accepted.first == .connectionAccepted(sessionPresent: false))
        return machine
    }

    @Test("CONNECT goes out on connection; an accepting CONNACK reports the session flag and starts keep-alive")
    func connectAccepted() throws {
        let connect = Connect(clientIdentifier: "oven", keepAlive: 30)
        var machine = Machine(connect: connect, connectTimeout: .seconds(10), peer: "broker:1883")
        #expect(machine.transportConnected(at: start) == [.write(try bytes(.connect(connect))), .scheduleTick(at: at(10))])
        let connack = try bytes(.connectAcknowledgement(.init(sessionPresent: true, returnCode: .accepted)))
        // Split across two reads: the framer waits for the whole packet.
        #expect(machine.received(connack.prefix(1), at: at(1)) == [])
        #expect(machine.received(connack.dropFirst(), at: at(1))
                == [.connectionAccepted(sessionPresent: true), .scheduleTick(at: at(30))])
        #expect(machine.ended == nil)
    }

    @Test("A refusing CONNACK closes with its return code; later commands fail with it")
    func connectRefused() throws {
        var machine = Machine(connect: Connect(clientIdentifier: "c1"), connectTimeout: .seconds(10), peer: "broker:1883")
        _ = machine.transportConnected(at: start)
        let refusal = try bytes(.connectAcknowledgement(.init(sessionPresent: false, returnCode: .notAuthorized)))
        #expect(machine.received(refusal, at: at(1)) == [.closeTransport(.connectionRefused(.notAuthorized), flushingWrites: false)])
        #expect(machine.command(1, .unsubscribe(["a"]), at: at(2)) == [.complete(1, .failed(.connectionRefused(.notAuthorized)))])
    }

    @Test("No CONNACK by the connect timeout closes the connection")
    func connectTimeout() {
        var machine = Machine(connect: Connect(clientIdentifier: "c1"), connectTimeout: .seconds(10), peer: "broker:1883")
        _ = machine.transportConnected(at: start)
        #expect(machine.tick(at: at(4)) == [.scheduleTick(at: at(10))])
        #expect(machine.tick(at: at(10)) == [.closeTransport(.timedOut("no CONNACK from broker:1883"), flushingWrites: false)])
        #expect(machine.tick(at: at(20)) == [])
    }

    @Test("Keep-alive: PINGREQ after an interval without sending, close when no PINGRESP comes within it")
    func keepAlive() throws {
        var machine = try connectedMachine(keepAlive: 5)
        let ping = try bytes(.pingRequest)
        // Sending at 3 s moves the idle point to 8 s.
        let qos0 = Publish(topic: "t", payload: [1])
        #expect(machine.command(1, .publish(topic: "t", payload: [1], qos: .atMostOnce, retain: false), at: at(3))
                == [.write(try bytes(.publish(qos0))), .complete(1, .published)])
        #expect(machine.tick(at: at(5)) == [.scheduleTick(at: at(8))])
        #expect(machine.tick(at: at(8)) == [.write(ping), .scheduleTick(at: at(13))])
        #expect(machine.received(try bytes(.pingResponse), at: at(9)) == [])
        #expect(machine.tick(at: at(13)) == [.write(ping), .scheduleTick(at: at(18))])
        #expect(machine.tick(at: at(17)) == [.scheduleTick(at: at(18))])
        #expect(machine.tick(at: at(18))
                == [.closeTransport(.timedOut("no PINGRESP from broker:1883 within the keep-alive"), flushingWrites: false)])
    }

    @Test("Keep-alive 0 never pings")
    func keepAliveOff() throws {
        var machine = try connectedMachine(keepAlive: 0)
        #expect(machine.tick(at: at(100_000)) == [])
    }

    @Test("QoS 1: PUBLISH with a fresh identifier; only the PUBACK with that identifier completes it")
    func publishAtLeastOnce() throws {
        var machine = try connectedMachine()
        let first = Publish(topic: "a", payload: [1], qos: .atLeastOnce, packetIdentifier: 1)
        let second = Publish(topic: "b", payload: [2], qos: .atLeastOnce, retain: true, packetIdentifier: 2)
        #expect(machine.command(7, .publish(topic: "a", payload: [1], qos: .atLeastOnce, retain: false), at: at(1))
                == [.write(try bytes(.publish(first)))])
        #expect(machine.command(8, .publish(topic: "b", payload: [2], qos: .atLeastOnce, retain: true), at: at(1))
                == [.write(try bytes(.publish(second)))])
        #expect(machine.received(try bytes(.publishAcknowledgement(packetIdentifier: 3)), at: at(2)) == [])
        #expect(machine.received(try bytes(.publishAcknowledgement(packetIdentifier: 2)), at: at(2)) == [.complete(8, .published)])
        #expect(machine.received(try bytes(.publishAcknowledgement(packetIdentifier: 2)), at: at(2)) == [])
        #expect(machine.received(try bytes(.publishAcknowledgement(packetIdentifier: 1)), at: at(2)) == [.complete(7, .published)])
        // Identifiers are not reused while in flight and move on after.
        let third = Publish(topic: "c", payload: [], qos: .atLeastOnce, packetIdentifier: 3)
        #expect(machine.command(9, .publish(topic: "c", payload: [], qos: .atLeastOnce, retain: false), at: at(3))
                == [.write(try bytes(.publish(third)))])
    }

    @Test("QoS 2 outbound: PUBLISH, PUBREC answered with PUBREL, PUBCOMP completes")
    func publishExactlyOnceOutbound() throws {
        var machine = try connectedMachine()
        let publish = Publish(topic: "q2", payload: [9], qos: .exactlyOnce, packetIdentifier: 1)
        #expect(machine.command(3, .publish(topic: "q2", payload: [9], qos: .exactlyOnce, retain: false), at: at(1))
                == [.write(try bytes(.publish(publish)))])
        // PUBCOMP before PUBREC is the wrong answer for the flow's state.
        var early = machine
        #expect(early.received(try bytes(.publishComplete(packetIdentifier: 1)), at: at(2)) == [
            .complete(3, .failed(.protocolViolation("PUBCOMP for packet 1, which waits for another answer"))),
            .closeTransport(.protocolViolation("PUBCOMP for packet 1, which waits for another answer"), flushingWrites: false),
        ])
        let release = try bytes(.publishRelease(packetIdentifier: 1))
        #expect(machine.received(try bytes(.publishReceived(packetIdentifier: 1)), at: at(2)) == [.write(release)])
        // A repeated PUBREC gets the PUBREL again (4.3.3).
        #expect(machine.received(try bytes(.publishReceived(packetIdentifier: 1)), at: at(2)) == [.write(release)])
        #expect(machine.received(try bytes(.publishComplete(packetIdentifier: 1)), at: at(3)) == [.complete(3, .published)])
    }

    @Test("QoS 2 inbound: delivered once though sent twice, PUBREC for each, PUBCOMP for PUBREL")
    func publishExactlyOnceInbound() throws {
        var machine = try connectedMachine()
        let publish = Publish(topic: "in", payload: [4], qos: .exactlyOnce, packetIdentifier: 9)
        var again = publish
        again.duplicate = true
        let received = try bytes(.publishReceived(packetIdentifier: 9))
        #expect(machine.received(try bytes(.publish(publish)), at: at(1)) == [.deliver(publish), .write(received)])
        #expect(machine.received(try bytes(.publish(again)), at: at(1)) == [.write(received)])
        #expect(machine.received(try bytes(.publishRelease(packetIdentifier: 9)), at: at(2))
                == [.write(try bytes(.publishComplete(packetIdentifier: 9)))])
        // After PUBREL the identifier is free: a new message with it is a new delivery.
        let next = Publish(topic: "in", payload: [5], qos: .exactlyOnce, packetIdentifier: 9)
        #expect(machine.received(try bytes(.publish(next)), at: at(3)) == [.deliver(next), .write(received)])
    }

    @Test("QoS 0 and 1 inbound: delivered; QoS 1 answered with PUBACK")
    func inboundLowerQoS() throws {
        var machine = try connectedMachine()
        let plain = Publish(topic: "p", payload: [0])
        let once = Publish(topic: "p", payload: [1], qos: .atLeastOnce, packetIdentifier: 4)
        #expect(machine.received(try bytes(.publish(plain)) + bytes(.publish(once)), at: at(1))
                == [.deliver(plain), .deliver(once), .write(try bytes(.publishAcknowledgement(packetIdentifier: 4)))])
    }

    @Test("SUBACK: return codes with a failure are the result; a SUBACK of the wrong length fails the command only")
    func subscribeAcknowledgement() throws {
        var machine = try connectedMachine()
        let subscriptions = [Subscription(filter: "a/#", qos: .exactlyOnce), Subscription(filter: "secret/+", qos: .atLeastOnce)]
        #expect(machine.command(1, .subscribe(subscriptions), at: at(1))
                == [.write(try bytes(.subscribe(Subscribe(packetIdentifier: 1, subscriptions: subscriptions))))])
        let answer = SubscribeAcknowledgement(packetIdentifier: 1, returnCodes: [.granted(.atLeastOnce), .failure])
        #expect(machine.received(try bytes(.subscribeAcknowledgement(answer)), at: at(2))
                == [.complete(1, .subscribed([.granted(.atLeastOnce), .failure]))])

        _ = machine.command(2, .subscribe(subscriptions), at: at(3))
        let short = SubscribeAcknowledgement(packetIdentifier: 2, returnCodes: [.granted(.atMostOnce)])
        #expect(machine.received(try bytes(.subscribeAcknowledgement(short)), at: at(4))
                == [.complete(2, .failed(.protocolViolation("SUBACK does not answer the SUBSCRIBE")))])
        #expect(machine.command(3, .unsubscribe(["a/#"]), at: at(5))
                == [.write(try bytes(.unsubscribe(Unsubscribe(packetIdentifier: 3, filters: ["a/#"]))))])
        #expect(machine.received(try bytes(.unsubscribeAcknowledgement(packetIdentifier: 3)), at: at(6)) == [.complete(3, .unsubscribed)])
        #expect(machine.ended == nil)
    }

    @Test("A packet a server may not send closes with the reason and fails what is in flight")
    func serverBreaksRules() throws {
        var machine = try connectedMachine()
        _ = machine.command(5, .publish(topic: "a", payload: [], qos: .atLeastOnce, retain: false), at: at(1))
        _ = machine.command(6, .unsubscribe(["x"]), at: at(1))
        let violation = MQTTError.protocolViolation("a server does not send PINGREQ")
        // The PUBACK before it still counts; nothing after it is read.
        let stream = try bytes(.publishAcknowledgement(packetIdentifier: 1)) + bytes(.pingRequest)
            + bytes(.unsubscribeAcknowledgement(packetIdentifier: 2))
        #expect(machine.received(stream, at: at(2))
                == [.complete(5, .published), .complete(6, .failed(violation)), .closeTransport(violation, flushingWrites: false)])
        #expect(machine.ended == violation)
        #expect(machine.received(try bytes(.pingResponse), at: at(3)) == [])

        var early = Machine(connect: Connect(clientIdentifier: "c1"), connectTimeout: .seconds(10), peer: "broker:1883")
        _ = early.transportConnected(at: start)
        #expect(early.received(try bytes(.publish(Publish(topic: "t", payload: []))), at: at(1))
                == [.closeTransport(.protocolViolation("PUBLISH before CONNACK"), flushingWrites: false)])

        var second = try connectedMachine()
        #expect(second.received(try bytes(.connectAcknowledgement(.init(sessionPresent: false, returnCode: .accepted))), at: at(1))
                == [.closeTransport(.protocolViolation("a server does not send CONNACK"), flushingWrites: false)])

        var malformed = try connectedMachine()
        // PUBACK with a remaining length of 3: not a PUBACK (3.4.1).
        #expect(malformed.received([0x40, 0x03, 0x00, 0x01, 0x00], at: at(1))
                == [.closeTransport(.trailingBytes(packet: "PUBACK", count: 1), flushingWrites: false)])
    }

    @Test("Disconnect: DISCONNECT written, in-flight commands fail, the transport closes after the write")
    func disconnect() throws {
        var machine = try connectedMachine()
        _ = machine.command(1, .publish(topic: "a", payload: [], qos: .exactlyOnce, retain: false), at: at(1))
        let reason = MQTTError.connectionClosed("disconnected by the client")
        #expect(machine.disconnect(at: at(2))
                == [.write(try bytes(.disconnect)), .complete(1, .failed(reason)), .closeTransport(reason, flushingWrites: true)])
        #expect(machine.disconnect(at: at(3)) == [])
        #expect(machine.command(2, .subscribe([Subscription(filter: "a", qos: .atMostOnce)]), at: at(3))
                == [.complete(2, .failed(reason))])
    }

    @Test("The transport closing under the machine fails what is in flight, with no close to do")
    func transportLost() throws {
        var machine = try connectedMachine()
        _ = machine.command(1, .unsubscribe(["a"]), at: at(1))
        let reason = MQTTError.connectionClosed("broker:1883 closed the connection")
        #expect(machine.transportClosed("broker:1883 closed the connection", at: at(2)) == [.complete(1, .failed(reason))])
        #expect(machine.ended == reason)
        #expect(machine.abort(at: at(3)) == [])
    }

    @Test("A command whose packet does not encode fails alone, the connection stays")
    func invalidCommand() throws {
        var machine = try connectedMachine()
        #expect(machine.command(1, .publish(topic: "a/+", payload: [], qos: .atLeastOnce, retain: false), at: at(1))
                == [.complete(1, .failed(.wildcardInTopicName("a/+")))])
        #expect(machine.ended == nil)
        // The failed command took no identifier.
        #expect(machine.command(2, .unsubscribe(["a"]), at: at(1))
                == [.write(try bytes(.unsubscribe(Unsubscribe(packetIdentifier: 1, filters: ["a"]))))])
    }
}
