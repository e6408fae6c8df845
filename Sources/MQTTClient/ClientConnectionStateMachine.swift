import MQTT

/// The MQTT 3.1.1 client side of one connection, without a socket or a clock of its own: the
/// owner feeds it events (transport connected or closed, bytes received, commands, ticks) with
/// the current instant and carries out the actions it returns. All protocol state lives here:
/// CONNECT/CONNACK and its timeout, keep-alive, packet identifiers, the QoS 1 and 2 flows both
/// ways (4.3) and what a server may send; so tests drive it with bytes and instants alone.
package struct ClientConnectionStateMachine<Clock: _Concurrency.Clock>: Sendable where Clock.Duration == Duration {
    package typealias Action = ClientConnectionAction<Clock.Instant>

    /// An outbound flow waiting for the server's answer, by packet identifier.
    private enum Flight: Sendable {
        case publishAtLeastOnce(ClientCommandID)
        /// QoS 2 before PUBREC (4.3.3).
        case publishAwaitingReceived(ClientCommandID)
        /// QoS 2 after PUBREC, PUBREL sent: waiting for PUBCOMP.
        case publishAwaitingComplete(ClientCommandID)
        case subscribe(ClientCommandID, count: Int)
        case unsubscribe(ClientCommandID)

        var command: ClientCommandID {
            switch self {
            case let .publishAtLeastOnce(id), let .publishAwaitingReceived(id), let .publishAwaitingComplete(id),
                 let .subscribe(id, _), let .unsubscribe(id): id
            }
        }
    }

    private enum Phase: Sendable {
        /// Waiting for the transport.
        case idle
        case awaitingConnectAcknowledgement(deadline: Clock.Instant)
        case connected
        case closed(MQTTError)
    }

    private let connect: Connect
    /// The server, as errors name it ("host:port").
    private let peer: String
    private let connectTimeout: Duration
    private let keepAlive: Duration
    private var phase = Phase.idle
    private var framer = MQTTFramer()
    private var flights: [UInt16: Flight] = [:]
    private var nextIdentifier: UInt16 = 1
    /// Inbound QoS 2 identifiers between PUBLISH and PUBREL: a resent PUBLISH is not delivered
    /// again (4.3.3, method B on the receiving side).
    private var receivedExactlyOnce: Set<UInt16> = []
    /// When the client last wrote a packet, for keep-alive (3.1.2.10).
    private var lastSent: Clock.Instant?
    private var pingSentAt: Clock.Instant?

    /// A machine that will send this CONNECT to `peer` and wait `connectTimeout` for CONNACK.
    package init(connect: Connect, connectTimeout: Duration, peer: String) {
        self.connect = connect
        self.peer = peer
        self.connectTimeout = connectTimeout
        self.keepAlive = .seconds(Int64(connect.keepAlive))
    }

    /// Why the connection ended, once it has.
    package var ended: MQTTError? {
        if case let .closed(reason) = phase { reason } else { nil }
    }

    // MARK: - Events

    /// The transport is up: send CONNECT and wait for CONNACK until the connect timeout.
    package mutating func transportConnected(at now: Clock.Instant) -> [Action] {
        guard case .idle = phase else { return [] }
        let bytes: [UInt8]
        do {
            bytes = try MQTTPacket.connect(connect).encoded()
        } catch {
            return close(error, at: now)
        }
        let deadline = now.advanced(by: connectTimeout)
        phase = .awaitingConnectAcknowledgement(deadline: deadline)
        lastSent = now
        return [.write(bytes), .scheduleTick(at: deadline)]
    }

    /// Bytes read from the transport.
    package mutating func received(_ bytes: some Collection<UInt8>, at now: Clock.Instant) -> [Action] {
        if case .closed = phase { return [] }
        framer.append(bytes)
        var actions: [Action] = []
        do {
            while ended == nil, let packet = try framer.next() {
                actions += handle(packet, at: now)
            }
        } catch {
            actions += close(error, at: now)
        }
        return actions
    }

    /// The transport closed or failed under us (`detail` says how).
    package mutating func transportClosed(_ detail: String, at now: Clock.Instant) -> [Action] {
        if case .closed = phase { return [] }
        return close(.connectionClosed(detail), at: now, closingTransport: false)
    }

    /// Time passed: checks the CONNACK deadline and keep-alive.
    package mutating func tick(at now: Clock.Instant) -> [Action] {
        switch phase {
        case .idle, .closed:
            return []
        case let .awaitingConnectAcknowledgement(deadline):
            if now >= deadline { return close(.timedOut("no CONNACK from \(peer)"), at: now) }
            return [.scheduleTick(at: deadline)]
        case .connected:
            guard keepAlive > .zero else { return [] }
            // 3.1.2.10: without an answer to PINGREQ in a reasonable time the client closes;
            // the keep-alive interval is that time here.
            if let pingSentAt {
                let limit = pingSentAt.advanced(by: keepAlive)
                if now >= limit { return close(.timedOut("no PINGRESP from \(peer) within the keep-alive"), at: now) }
                return [.scheduleTick(at: limit)]
            }
            // 3.1.2.10: the client sends a control packet at least once per keep-alive interval.
            let idleUntil = (lastSent ?? now).advanced(by: keepAlive)
            if now >= idleUntil {
                pingSentAt = now
                return write(.pingRequest, at: now) + [.scheduleTick(at: now.advanced(by: keepAlive))]
            }
            return [.scheduleTick(at: idleUntil)]
        }
    }

    /// A user's command; its `complete` action comes now or when the server answers.
    package mutating func command(_ id: ClientCommandID, _ command: ClientCommand, at now: Clock.Instant) -> [Action] {
        switch phase {
        case let .closed(reason):
            return [.complete(id, .failed(reason))]
        case .idle, .awaitingConnectAcknowledgement:
            return [.complete(id, .failed(.connectionClosed("not connected yet")))]
        case .connected:
            break
        }
        if case let .publish(topic, payload, qos, retain) = command, qos == .atMostOnce {
            let packet = MQTTPacket.publish(Publish(topic: topic, payload: payload, qos: qos, retain: retain))
            let bytes: [UInt8]
            do { bytes = try packet.encoded() } catch { return [.complete(id, .failed(error))] }
            lastSent = now
            return [.write(bytes), .complete(id, .published)]
        }
        guard let identifier = freeIdentifier() else {
            return [.complete(id, .failed(.connectionClosed("all 65535 packet identifiers are in use")))]
        }
        let packet: MQTTPacket
        let flight: Flight
        switch command {
        case let .publish(topic, payload, qos, retain):
            packet = .publish(Publish(topic: topic, payload: payload, qos: qos, retain: retain, packetIdentifier: identifier))
            flight = qos == .atLeastOnce ? .publishAtLeastOnce(id) : .publishAwaitingReceived(id)
        case let .subscribe(subscriptions):
            packet = .subscribe(Subscribe(packetIdentifier: identifier, subscriptions: subscriptions))
            flight = .subscribe(id, count: subscriptions.count)
        case let .unsubscribe(filters):
            packet = .unsubscribe(Unsubscribe(packetIdentifier: identifier, filters: filters))
            flight = .unsubscribe(id)
        }
        let bytes: [UInt8]
        do { bytes = try packet.encoded() } catch { return [.complete(id, .failed(error))] }
        flights[identifier] = flight
        nextIdentifier = identifier &+ 1
        lastSent = now
        return [.write(bytes)]
    }

    /// The user disconnects: DISCONNECT goes out, then the transport closes (3.14); the server
    /// discards the will.
    package mutating func disconnect(at now: Clock.Instant) -> [Action] {
        if case .closed = phase { return [] }
        let connected = if case .connected = phase { true } else { false }
        let bytes = connected ? (try? MQTTPacket.disconnect.encoded()) ?? [] : []
        let reason = MQTTError.connectionClosed("disconnected by the client")
        return (bytes.isEmpty ? [] : [.write(bytes)]) + close(reason, at: now, flushingWrites: true)
    }

    /// The user closes without DISCONNECT, as a crash would: the server publishes the will.
    package mutating func abort(at now: Clock.Instant) -> [Action] {
        if case .closed = phase { return [] }
        return close(.connectionClosed("closed by the client"), at: now)
    }

    // MARK: - Inbound packets

    private mutating func handle(_ packet: MQTTPacket, at now: Clock.Instant) -> [Action] {
        if case .awaitingConnectAcknowledgement = phase {
            // 3.2: the first packet from the server must be CONNACK.
            guard case let .connectAcknowledgement(acknowledgement) = packet else {
                return close(.protocolViolation("\(MQTTPacket.name(ofType: packet.packetType)) before CONNACK"), at: now)
            }
            guard acknowledgement.returnCode == .accepted else {
                return close(.connectionRefused(acknowledgement.returnCode), at: now)
            }
            phase = .connected
            var actions: [Action] = [.connectionAccepted(sessionPresent: acknowledgement.sessionPresent)]
            if keepAlive > .zero { actions.append(.scheduleTick(at: (lastSent ?? now).advanced(by: keepAlive))) }
            return actions
        }
        switch packet {
        case let .publish(publish):
            return receive(publish, at: now)
        case let .publishRelease(identifier):
            receivedExactlyOnce.remove(identifier)
            return write(.publishComplete(packetIdentifier: identifier), at: now)
        case let .publishAcknowledgement(identifier):
            return acknowledge(identifier, packet, at: now)
        case let .publishReceived(identifier):
            switch flights[identifier] {
            case let .publishAwaitingReceived(id)?, let .publishAwaitingComplete(id)?:
                flights[identifier] = .publishAwaitingComplete(id)
            case nil:
                // A PUBREC for a flow this connection did not start (a resumed session): the
                // release is still ours to send (4.3.3).
                break
            case .some:
                return close(.protocolViolation("PUBREC for packet \(identifier), which is not a QoS 2 PUBLISH"), at: now)
            }
            return write(.publishRelease(packetIdentifier: identifier), at: now)
        case let .publishComplete(identifier), let .unsubscribeAcknowledgement(identifier):
            return acknowledge(identifier, packet, at: now)
        case let .subscribeAcknowledgement(acknowledgement):
            return acknowledge(acknowledgement.packetIdentifier, packet, at: now)
        case .pingResponse:
            pingSentAt = nil
            return []
        case .connect, .connectAcknowledgement, .subscribe, .unsubscribe, .pingRequest, .disconnect:
            return close(.protocolViolation("a server does not send \(MQTTPacket.name(ofType: packet.packetType))"), at: now)
        }
    }

    private mutating func receive(_ publish: Publish, at now: Clock.Instant) -> [Action] {
        switch publish.qos {
        case .atMostOnce:
            return [.deliver(publish)]
        case .atLeastOnce:
            // 4.3.2: deliver, then PUBACK.
            return [.deliver(publish)] + write(.publishAcknowledgement(packetIdentifier: publish.packetIdentifier ?? 0), at: now)
        case .exactlyOnce:
            // 4.3.3: deliver once per identifier until PUBREL, answer every copy with PUBREC.
            let identifier = publish.packetIdentifier ?? 0
            let delivery: [Action] = receivedExactlyOnce.insert(identifier).inserted ? [.deliver(publish)] : []
            return delivery + write(.publishReceived(packetIdentifier: identifier), at: now)
        }
    }

    /// An acknowledgement ends the flow of its identifier if it is the one that flow waits for;
    /// one for an identifier not in flight is ignored (a late duplicate), one of the wrong kind
    /// breaks the protocol.
    private mutating func acknowledge(_ identifier: UInt16, _ packet: MQTTPacket, at now: Clock.Instant) -> [Action] {
        guard let flight = flights[identifier] else { return [] }
        let result: ClientCommandResult
        switch (flight, packet) {
        case (.publishAtLeastOnce, .publishAcknowledgement), (.publishAwaitingComplete, .publishComplete):
            result = .published
        case (.unsubscribe, .unsubscribeAcknowledgement):
            result = .unsubscribed
        case let (.subscribe(_, count), .subscribeAcknowledgement(acknowledgement)):
            // 3.9.3: one return code per topic filter; otherwise this SUBACK answers nothing we sent.
            result = acknowledgement.returnCodes.count == count ? .subscribed(acknowledgement.returnCodes)
                : .failed(.protocolViolation("SUBACK does not answer the SUBSCRIBE"))
        default:
            let name = MQTTPacket.name(ofType: packet.packetType)
            return close(.protocolViolation("\(name) for packet \(identifier), which waits for another answer"), at: now)
        }
        flights[identifier] = nil
        return [.complete(flight.command, result)]
    }

    // MARK: - Helpers

    private mutating func write(_ packet: MQTTPacket, at now: Clock.Instant) -> [Action] {
        // Acknowledgements and PINGREQ are fixed-size packets with valid fields: they encode.
        guard let bytes = try? packet.encoded() else { return [] }
        lastSent = now
        return [.write(bytes)]
    }

    /// The next identifier not in flight, skipping 0 (2.3.1).
    private func freeIdentifier() -> UInt16? {
        var candidate = nextIdentifier
        for _ in 0..<65_536 {
            if candidate != 0 && flights[candidate] == nil { return candidate }
            candidate &+= 1
        }
        return nil
    }

    /// Ends the connection: every command in flight fails with the reason.
    private mutating func close(_ reason: MQTTError, at now: Clock.Instant, closingTransport: Bool = true,
                                flushingWrites: Bool = false) -> [Action] {
        phase = .closed(reason)
        var actions: [Action] = flights.sorted { $0.value.command < $1.value.command }
            .map { .complete($0.value.command, .failed(reason)) }
        flights = [:]
        if closingTransport { actions.append(.closeTransport(reason, flushingWrites: flushingWrites)) }
        return actions
    }
}
