import MQTT

/// Routing: from a published message to every matching session, and from a session's queue to
/// its client within the inflight window.
extension BrokerCore {
    /// Publishes a message that passed its sender's checks: stores or clears it as retained, and
    /// delivers it to every matching subscriber at the lower of the two QoS. `payload` may be a
    /// slice of a receive buffer: it is copied only where the message is kept.
    func publish(topic: String, payload: ArraySlice<UInt8>, qos: QoS, retain: Bool) {
        statistics.messagesReceived += 1
        // Made on first need (retained, queued, in-process or renamed deliveries); QoS 0
        // deliveries to sockets, the common case, are encoded from `payload` without one.
        var message: BrokerMessage?
        if retain {
            // 3.3.1.3: an empty retained message clears the topic's retained message.
            if payload.isEmpty {
                if retained.remove(topic) != nil { record(.clearRetained(topic: topic)) }
            } else {
                let kept = BrokerMessage(topic: topic, payload: Array(payload), qos: qos, retain: retain)
                retained.set(kept, for: topic)
                record(.retain(StoredMessage(topic: topic, payload: kept.payload, qos: qos, retain: true)))
                message = kept
            }
        }
        for (session, granted) in subscribers(of: topic) {
            // Deliveries to established subscriptions carry RETAIN 0 (3.3.1.3).
            let deliveryQoS = min(qos, granted)
            if deliveryQoS == .atMostOnce, session.presentedPrefixes.isEmpty, let connection = session.connection {
                sendAtMostOnce(topic: topic, payload: payload, retain: false, to: connection)
                continue
            }
            let shared = message ?? BrokerMessage(topic: topic, payload: Array(payload), qos: qos, retain: retain)
            message = shared
            deliver(shared, to: session, qos: deliveryQoS, retain: false)
        }
    }

    private func subscribers(of topic: String) -> [(Session, QoS)] {
        if let cached = matchCache[topic] { return cached }
        let found = subscriptions.subscribers(of: topic).map { ($0.key, $0.value) }
        if matchCache.count >= 4096 { matchCache.removeAll(keepingCapacity: true) }
        matchCache[topic] = found
        return found
    }

    /// Hands a message to one session: straight to the socket at QoS 0, through the session's
    /// queue at QoS 1 and 2.
    func deliver(_ message: BrokerMessage, to session: Session, qos: QoS, retain: Bool) {
        var message = message
        if !session.presentedPrefixes.isEmpty, let presented = session.presentedTopic(for: message.topic) {
            message = message.renamed(to: presented)
        }
        switch session.endpoint {
        case let .local(sink)?:
            let delivered = sink.deliver(Publish(topic: message.topic, payload: message.payload, qos: qos, retain: retain))
            if delivered { statistics.messagesDelivered += 1 } else { statistics.messagesDropped += 1 }
            return
        case let .connection(connection)? where qos == .atMostOnce:
            sendAtMostOnce(topic: message.topic, payload: message.payload[...], retain: retain, to: connection)
            return
        case nil where qos == .atMostOnce:
            statistics.messagesDropped += 1
            return
        default:
            break
        }
        // The bound covers the inflight window and the queue behind it; beyond it the newest is dropped.
        guard session.outgoing.count < configuration.maximumInflightMessages + configuration.maximumQueuedMessages,
              let identifier = session.outgoing.enqueue(message, qos: qos, retain: retain) else {
            statistics.messagesDropped += 1
            return
        }
        if session.persistent {
            record(.enqueue(clientID: session.clientID, packetIdentifier: identifier,
                            message: StoredMessage(topic: message.topic, payload: message.payload, qos: qos, retain: retain)),
                   for: session)
        }
        pump(session)
    }

    /// A QoS 0 PUBLISH, encoded straight into the connection's output.
    private func sendAtMostOnce(topic: String, payload: ArraySlice<UInt8>, retain: Bool, to connection: Connection) {
        connection.appendOutput { $0.appendCheckedPublish(topic: topic, payload: payload, qos: .atMostOnce, retain: retain) }
        statistics.messagesDelivered += 1
        scheduleFlush(connection)
        checkPending(connection)
    }

    /// Sends queued QoS 1/2 messages while the inflight window has room.
    func pump(_ session: Session) {
        guard let connection = session.connection, connection.isConnected else { return }
        var sent = false
        while session.outgoing.inflightCount < configuration.maximumInflightMessages,
              let (identifier, entry) = session.outgoing.publishNext() {
            connection.appendOutput { entry.message.append(to: &$0, qos: entry.qos, retain: entry.retain,
                                                           duplicate: entry.duplicate, packetIdentifier: identifier) }
            statistics.messagesDelivered += 1
            sent = true
        }
        if sent {
            scheduleFlush(connection)
            checkPending(connection)
        }
    }

    /// A client that does not read: try to write now, and disconnect it if it is still behind.
    private func checkPending(_ connection: Connection) {
        guard connection.pendingByteCount > configuration.maximumPendingBytes else { return }
        flush(connection)
        if connection.isOpen && connection.pendingByteCount > configuration.maximumPendingBytes {
            scheduleClose(connection, reason: "slow consumer: \(connection.pendingByteCount) bytes not read")
        }
    }

    // MARK: - Subscriptions

    /// Adds subscriptions as the policy allows; returns the SUBACK codes and the granted filters.
    func addSubscriptions(_ requested: [Subscription], to session: Session) -> ([SubscribeReturnCode], [(String, QoS)]) {
        var codes: [SubscribeReturnCode] = []
        var granted: [(String, QoS)] = []
        for subscription in requested {
            let rewrite = policy.rewriteFilter(subscription.filter, for: session.identity)
            guard (try? Topic.validateFilter(rewrite.filter)) != nil,
                  let allowed = policy.grantSubscription(rewrite.filter, qos: subscription.qos, client: session.identity) else {
                codes.append(.failure)
                continue
            }
            let qos = min(allowed, subscription.qos)
            subscriptions.insert(session, filter: rewrite.filter, qos: qos)
            session.subscriptions[rewrite.filter] = qos
            if let prefix = rewrite.presentedPrefix,
               !session.presentedPrefixes.contains(where: { $0.canonical == prefix.canonical && $0.presented == prefix.presented }) {
                session.presentedPrefixes.append(prefix)
            }
            record(.subscribe(clientID: session.clientID, filter: rewrite.filter, qos: qos), for: session)
            codes.append(.granted(qos))
            granted.append((rewrite.filter, qos))
        }
        if !granted.isEmpty { matchCache.removeAll(keepingCapacity: true) }
        return (codes, granted)
    }

    func removeSubscriptions(_ filters: [String], from session: Session) {
        for filter in filters {
            let stored = policy.rewriteFilter(filter, for: session.identity).filter
            guard session.subscriptions.removeValue(forKey: stored) != nil else { continue }
            subscriptions.remove(session, filter: stored)
            record(.unsubscribe(clientID: session.clientID, filter: stored), for: session)
            matchCache.removeAll(keepingCapacity: true)
        }
    }

    /// Sends the retained messages that match newly granted filters, RETAIN set; returns how many
    /// were matched (the work the SUBSCRIBE cost, counted against its sender's turn). The store
    /// walks only what each filter reaches. One SUBSCRIBE's replay is not split across turns (its
    /// messages follow its SUBACK); a client whose unread output passes `maximumPendingBytes` is
    /// being closed, so the walk stops there instead of encoding messages that will be dropped.
    @discardableResult
    func replayRetained(_ granted: [(String, QoS)], to session: Session) -> Int {
        var matched = 0
        for (filter, qos) in granted {
            matched += retained.forEachMatch(of: filter) { _, message in
                deliver(message, to: session, qos: min(message.qos, qos), retain: true)
                return !(session.connection?.closeScheduled ?? false)
            }
        }
        return matched
    }

    /// Ends a session: its subscriptions and queued messages are gone.
    func endSession(_ session: Session) {
        for filter in session.subscriptions.keys {
            subscriptions.remove(session, filter: filter)
        }
        if !session.subscriptions.isEmpty { matchCache.removeAll(keepingCapacity: true) }
        session.subscriptions = [:]
        if sessions[session.clientID] === session { sessions[session.clientID] = nil }
        if session.persistent { record(.closeSession(clientID: session.clientID)) }
    }
}
