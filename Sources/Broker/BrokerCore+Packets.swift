import MQTT

/// What the broker does with each packet a connected socket client sends.
extension BrokerCore {
    func handle(_ inbound: InboundPacket, from connection: Connection) {
        switch connection.phase {
        case .closing, .closed:
            return
        case .awaitingConnect:
            guard case let .other(.connect(connect)) = inbound else {
                statistics.protocolErrors += 1
                close(connection, reason: "protocol error: \(MQTTPacket.name(ofType: inbound.packet.packetType)) before CONNECT", publishWill: false)
                return
            }
            handleConnect(connect, from: connection)
            // Most clients say little after CONNECT: the read buffer goes until they do (10,000
            // connecting at once would otherwise each hold one until the idle sweep).
            connection.framer.releaseMemoryIfEmpty()
            return
        case .connected:
            break
        }
        guard let session = connection.session else { return }
        switch inbound {
        case let .publish(publish):
            handlePublish(publish, from: connection, session: session)
        case let .other(packet):
            handle(packet, from: connection, session: session)
        }
    }

    /// A connected client's packet, decoded in full (the framer hands PUBLISH over on its own).
    private func handle(_ packet: MQTTPacket, from connection: Connection, session: Session) {
        switch packet {
        case let .publish(publish):
            handlePublish(InboundPublish(publish), from: connection, session: session)
        case let .publishAcknowledgement(identifier):
            if session.outgoing.complete(identifier, expecting: .atLeastOnce) != nil {
                record(.complete(clientID: session.clientID, packetIdentifier: identifier), for: session)
                pump(session)
            }
        case let .publishReceived(identifier):
            if session.outgoing.release(identifier) {
                record(.release(clientID: session.clientID, packetIdentifier: identifier), for: session)
                sendAcknowledgement(.publishRelease, identifier, to: connection)
            }
        case let .publishComplete(identifier):
            if session.outgoing.complete(identifier, expecting: .exactlyOnce) != nil {
                record(.complete(clientID: session.clientID, packetIdentifier: identifier), for: session)
                pump(session)
            }
        case let .publishRelease(identifier):
            if session.awaitingRelease.remove(identifier) != nil {
                record(.released(clientID: session.clientID, packetIdentifier: identifier), for: session)
            }
            // PUBCOMP even for an identifier not known (any more): the client must be able to finish.
            sendAcknowledgement(.publishComplete, identifier, to: connection)
        case let .subscribe(subscribe):
            let (codes, granted) = addSubscriptions(subscribe.subscriptions, to: session)
            for (subscription, code) in zip(subscribe.subscriptions, codes) where code == .failure {
                logRefusal("subscription_denied", ["client": session.clientID, "address": connection.remoteAddress,
                                                   "entity": session.identity.username ?? "-", "filter": subscription.filter])
            }
            // One code per filter of a decoded SUBSCRIBE: the SUBACK is smaller than the packet it answers.
            connection.appendOutput { $0.appendSubscribeAcknowledgement(packetIdentifier: subscribe.packetIdentifier, returnCodes: codes) }
            scheduleFlush(connection)
            // Retained messages follow the SUBACK (3.3.1.3).
            retainedMatchedByPacket = replayRetained(granted, to: session)
        case let .unsubscribe(unsubscribe):
            removeSubscriptions(unsubscribe.filters, from: session)
            sendAcknowledgement(.unsubscribeAcknowledgement, unsubscribe.packetIdentifier, to: connection)
        case .pingRequest:
            connection.appendOutput { $0.appendPingResponse() }
            scheduleFlush(connection)
        case .disconnect:
            close(connection, reason: "DISCONNECT", publishWill: false)
        case .connect:
            statistics.protocolErrors += 1
            close(connection, reason: "protocol error: a second CONNECT", publishWill: true)
        case .connectAcknowledgement, .subscribeAcknowledgement, .unsubscribeAcknowledgement, .pingResponse:
            statistics.protocolErrors += 1
            close(connection, reason: "protocol error: a client does not send \(MQTTPacket.name(ofType: packet.packetType))", publishWill: true)
        }
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK, written in place (no array per packet).
    func sendAcknowledgement(_ kind: IdentifierAcknowledgement, _ identifier: UInt16, to connection: Connection) {
        connection.appendOutput { $0.appendAcknowledgement(kind, packetIdentifier: identifier) }
        scheduleFlush(connection)
    }

    // MARK: - CONNECT

    private func handleConnect(_ connect: Connect, from connection: Connection) {
        var clientID = connect.clientIdentifier
        if clientID.isEmpty {
            // 3.1.3.1: the server assigns a unique id to a clean session without one.
            nextAutomaticClientID += 1
            clientID = "modbridge-auto-\(nextAutomaticClientID)-\(connection.token)"
        }
        let request = ConnectRequest(clientID: clientID, username: connect.username, password: connect.password,
                                     remoteAddress: connection.remoteAddress, cleanSession: connect.cleanSession,
                                     will: connect.will, channel: connection.channel, anonymousEntity: anonymousEntity(of: connection))
        switch policy.authenticate(request) {
        case let .decided(authentication):
            finishConnect(PendingConnect(connect: connect, clientID: clientID), authentication, on: connection)
        case let .verify(check):
            // The hash runs on the verifier's thread; the client's later packets wait unread.
            guard verifier.submit(token: connection.token, check) else {
                refuse(connection, clientID: clientID, .serverUnavailable,
                       Refusal(entity: connect.username, reason: "\(LoginVerifier.maximumQueued) logins already wait for their check"))
                return
            }
            connection.verifying = PendingConnect(connect: connect, clientID: clientID)
            hold(connection)
        }
    }

    /// The rest of CONNECT once the policy has decided (at once, or after the verifier's check).
    func finishConnect(_ pending: PendingConnect, _ authentication: Authentication, on connection: Connection) {
        let (connect, clientID) = (pending.connect, pending.clientID)
        let identity: ClientIdentity
        let rules: any SessionPolicy
        switch authentication {
        case let .accepted(accepted, policy):
            identity = accepted
            rules = policy
        case let .refused(code, refusal):
            refuse(connection, clientID: clientID, code, refusal)
            return
        }
        if var will = connect.will {
            switch rules.publish(to: will.topic) {
            case let .allowed(topic):
                will.topic = topic
            case let .denied(refusal):
                refuse(connection, clientID: clientID, .notAuthorized,
                       Refusal(entity: refusal.entity, reason: "will topic \(will.topic): \(refusal.reason)"))
                return
            }
            connection.will = will
        }

        // Takeover (3.1.4-2): the connection holding this client id is closed first.
        if let existing = sessions[clientID] {
            switch existing.endpoint {
            case let .connection(previous)?:
                close(previous, reason: "taken over by a new connection from \(connection.remoteAddress)", publishWill: true)
            case .local?:
                refuse(connection, clientID: clientID, .identifierRejected,
                       Refusal(entity: identity.username, reason: "the client id is an in-process device's"))
                return
            case nil:
                break
            }
        }
        var sessionPresent = false
        var session: Session
        if let existing = sessions[clientID], !connect.cleanSession {
            session = existing
            sessionPresent = true
        } else {
            if let existing = sessions[clientID] { endSession(existing) }
            session = Session(clientID: clientID, persistent: !connect.cleanSession, identity: identity, policy: rules)
            sessions[clientID] = session
            record(.openSession(clientID: clientID), for: session)
        }
        session.identity = identity
        session.policy = rules
        session.endpoint = .connection(connection)
        connection.session = session
        connection.phase = .connected
        connection.keepAlive = connect.keepAlive
        connection.appendOutput { $0.appendConnectAcknowledgement(sessionPresent: sessionPresent, returnCode: .accepted) }
        scheduleFlush(connection)
        log(.info, "client_connected", ["client": clientID, "address": connection.remoteAddress,
                                         "entity": identity.username ?? "-",
                                         "clean_session": connect.cleanSession ? "1" : "0",
                                         "session_present": sessionPresent ? "1" : "0"])
        recordActivity(.connected(identity))
        if sessionPresent {
            // 4.4: unacknowledged PUBLISH (DUP set) and PUBREL packets are sent again, in order.
            for (identifier, entry) in session.outgoing.inflightForResend() {
                if entry.stage == .released {
                    sendAcknowledgement(.publishRelease, identifier, to: connection)
                } else {
                    connection.appendOutput { entry.message.append(to: &$0, qos: entry.qos, retain: entry.retain,
                                                                   duplicate: true, packetIdentifier: identifier) }
                }
            }
            pump(session)
        }
    }

    private func refuse(_ connection: Connection, clientID: String, _ code: ConnectReturnCode, _ refusal: Refusal) {
        statistics.loginsRefused += 1
        recordActivity(.loginRefused(clientID: clientID, remoteAddress: connection.remoteAddress, refusal))
        logRefusal("client_refused", ["client": clientID, "address": connection.remoteAddress, "entity": refusal.entity ?? "-",
                                      "reason": refusal.reason, "return_code": "\(code.rawValue)"])
        connection.appendOutput { $0.appendConnectAcknowledgement(sessionPresent: false, returnCode: code) }
        close(connection, reason: "refused with CONNACK \(code.rawValue)", publishWill: false)
    }

    // MARK: - PUBLISH

    private func handlePublish(_ publish: InboundPublish, from connection: Connection, session: Session) {
        if publish.payload.count > configuration.maximumMessageSize {
            statistics.protocolErrors += 1
            close(connection, reason: "message of \(publish.payload.count) bytes over the limit of \(configuration.maximumMessageSize)", publishWill: true)
            return
        }
        let now = clock.now
        let topic: String
        switch authorizePublish(publish.topic, by: session, now: now) {
        case let .allowed(allowed):
            topic = allowed
        case let .denied(refusal):
            logRefusal("publish_denied", ["client": session.clientID, "address": connection.remoteAddress,
                                          "entity": refusal.entity ?? session.identity.username ?? "-",
                                          "topic": publish.topic, "reason": refusal.reason])
            close(connection, reason: "not authorised to publish to \(publish.topic)", publishWill: true)
            return
        }
        let pause = session.policy.pauseAfterPublish(now: now)
        if pause > .zero {
            // Over the entity's message rate: this message goes through, the next ones wait.
            connection.pausedUntil = now.advanced(by: pause)
            hold(connection)
        }
        let identifier = publish.packetIdentifier ?? 0
        switch publish.qos {
        case .atMostOnce:
            self.publish(topic: topic, payload: publish.payload, qos: .atMostOnce, retain: publish.retain)
        case .atLeastOnce:
            self.publish(topic: topic, payload: publish.payload, qos: .atLeastOnce, retain: publish.retain)
            sendAcknowledgement(.publishAcknowledgement, identifier, to: connection)
        case .exactlyOnce:
            // Delivered on first receipt; a resent PUBLISH before PUBREL is not delivered again.
            if session.awaitingRelease.insert(identifier).inserted {
                self.publish(topic: topic, payload: publish.payload, qos: .exactlyOnce, retain: publish.retain)
                record(.awaitRelease(clientID: session.clientID, packetIdentifier: identifier), for: session)
            }
            sendAcknowledgement(.publishReceived, identifier, to: connection)
        }
    }
}
