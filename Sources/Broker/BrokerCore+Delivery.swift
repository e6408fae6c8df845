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
        if policy.isPermanent(topic) {
            // IOT-CORE.md, permanent topics: the last message is kept, whatever its retain flag.
            let kept = message ?? BrokerMessage(topic: topic, payload: Array(payload), qos: qos, retain: retain)
            message = kept
            permanent[topic] = kept
            record(.permanent(StoredMessage(topic: topic, payload: kept.payload, qos: qos, retain: false)))
        }
        for (subscriber, granted) in subscribers(of: topic) {
            let session = subscriber.session
            // Deliveries to established subscriptions carry RETAIN 0 (3.3.1.3).
            let deliveryQoS = min(qos, granted)
            if deliveryQoS == .atMostOnce, subscriber.presentedPrefix == nil, let connection = session.connection {
                sendAtMostOnce(topic: topic, payload: payload, retain: false, to: connection)
                continue
            }
            let shared = message ?? BrokerMessage(topic: topic, payload: Array(payload), qos: qos, retain: retain)
            message = shared
            deliver(shared, to: subscriber, qos: deliveryQoS, retain: false)
        }
    }

    private func subscribers(of topic: String) -> [(Subscriber, QoS)] {
        if let cached = matchCache[topic] { return cached }
        let found = subscriptions.subscribers(of: topic).map { ($0.key, $0.value) }
        if matchCache.count >= 4096 { matchCache.removeAll(keepingCapacity: true) }
        matchCache[topic] = found
        return found
    }

    /// Hands a message to one session: straight to the socket at QoS 0, through the session's
    /// queue at QoS 1 and 2.
    func deliver(_ message: BrokerMessage, to subscriber: Subscriber, qos: QoS, retain: Bool) {
        let session = subscriber.session
        var message = message
        if let presented = subscriber.presentedPrefix?.present(message.topic) {
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

    /// Adds subscriptions as the session's policy allows (each requested filter may stand for
    /// several stored ones, narrowed to what the client may read); returns the SUBACK codes and
    /// what was granted, for the retained and permanent replay.
    func addSubscriptions(_ requested: [Subscription], to session: Session) -> ([SubscribeReturnCode], [GrantedSubscription]) {
        var codes: [SubscribeReturnCode] = []
        var granted: [GrantedSubscription] = []
        for subscription in requested {
            let rewrites = session.policy.subscribe(to: subscription.filter).filter { (try? Topic.validateFilter($0.filter)) != nil }
            guard !rewrites.isEmpty else {
                statistics.subscriptionsDenied += 1
                recordActivity(.subscriptionDenied(session.identity, filter: subscription.filter))
                codes.append(.failure)
                continue
            }
            let qos = subscription.qos
            let exact = !subscription.filter.contains(where: { $0 == "+" || $0 == "#" })
            for rewrite in rewrites {
                subscriptions.insert(session.subscriber(presenting: rewrite.presentedPrefix), filter: rewrite.filter, qos: qos)
                session.subscriptions[rewrite] = qos
                record(.subscribe(clientID: session.clientID, filter: rewrite.storageKey, qos: qos), for: session)
                granted.append(GrantedSubscription(rewrite: rewrite, qos: qos, exact: exact))
            }
            codes.append(.granted(qos))
        }
        if !granted.isEmpty {
            matchCache.removeAll(keepingCapacity: true)
            recordActivity(.subscribed(session.identity))
        }
        return (codes, granted)
    }

    func removeSubscriptions(_ filters: [String], from session: Session) {
        for filter in filters {
            for rewrite in session.policy.subscribe(to: filter) {
                guard session.subscriptions.removeValue(forKey: rewrite) != nil else { continue }
                subscriptions.remove(session.subscriber(presenting: rewrite.presentedPrefix), filter: rewrite.filter)
                record(.unsubscribe(clientID: session.clientID, filter: rewrite.storageKey), for: session)
                matchCache.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Sends the retained messages that match newly granted filters, RETAIN set, and for a
    /// subscription to one exact permanent topic its last message (IOT-CORE.md: never through a
    /// wildcard; the permanent copy is the newest message on the topic, so it replaces a retained
    /// one there); returns how many were matched (the work the SUBSCRIBE cost, counted against its
    /// sender's turn). The store walks only what each filter reaches. One SUBSCRIBE's replay is
    /// not split across turns (its messages follow its SUBACK); a client whose unread output passes
    /// `maximumPendingBytes` is being closed, so the walk stops there instead of encoding messages
    /// that will be dropped.
    @discardableResult
    func replayRetained(_ granted: [GrantedSubscription], to session: Session) -> Int {
        var matched = 0
        for grant in granted {
            let subscriber = session.subscriber(presenting: grant.rewrite.presentedPrefix)
            if grant.exact, let kept = permanent[grant.rewrite.filter] {
                deliver(kept, to: subscriber, qos: min(kept.qos, grant.qos), retain: true)
                matched += 1
                continue
            }
            matched += retained.forEachMatch(of: grant.rewrite.filter) { _, message in
                deliver(message, to: subscriber, qos: min(message.qos, grant.qos), retain: true)
                return !(session.connection?.closeScheduled ?? false)
            }
        }
        return matched
    }

    /// Ends a session: its subscriptions and queued messages are gone.
    func endSession(_ session: Session) {
        for rewrite in session.subscriptions.keys {
            subscriptions.remove(session.subscriber(presenting: rewrite.presentedPrefix), filter: rewrite.filter)
        }
        if !session.subscriptions.isEmpty { matchCache.removeAll(keepingCapacity: true) }
        session.subscriptions = [:]
        if sessions[session.clientID] === session { sessions[session.clientID] = nil }
        if session.persistent { record(.closeSession(clientID: session.clientID)) }
    }
}

/// A filter granted by a SUBSCRIBE, as stored, with what its replay needs.
struct GrantedSubscription {
    var rewrite: FilterRewrite
    var qos: QoS
    /// The client asked for one exact topic (no wildcard): permanent topics are replayed to it.
    var exact: Bool
}
