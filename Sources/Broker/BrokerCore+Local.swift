import MQTT

/// In-process clients: sessions whose endpoint is a stream instead of a socket, under the same
/// policy as socket clients.
extension BrokerCore {
    func attachLocal(_ identity: ClientIdentity, sink: LocalSink) -> Result<Void, BrokerError> {
        let rules: any SessionPolicy
        switch policy.attachLocal(identity) {
        case let .accepted(_, accepted):
            rules = accepted
        case let .refused(_, refusal):
            sink.finish()
            return .failure(.notAuthorized(clientID: identity.clientID, topic: "login: \(refusal)"))
        }
        if let existing = sessions[identity.clientID] {
            if existing.endpoint != nil {
                sink.finish()
                return .failure(.clientIDInUse(identity.clientID))
            }
            endSession(existing)
        }
        let session = Session(clientID: identity.clientID, persistent: false, identity: identity, policy: rules)
        session.endpoint = .local(sink)
        sessions[identity.clientID] = session
        recordActivity(.connected(identity))
        return .success(())
    }

    func detachLocal(_ clientID: String) {
        guard let session = sessions[clientID], case let .local(sink)? = session.endpoint else { return }
        session.endpoint = nil
        sink.finish()
        recordActivity(.disconnected(session.identity))
        endSession(session)
    }

    private func localSession(_ clientID: String) -> Session? {
        guard let session = sessions[clientID], case .local? = session.endpoint else { return nil }
        return session
    }

    func publishLocal(_ clientID: String, _ publish: Publish) -> Result<Void, BrokerError> {
        guard let session = localSession(clientID) else { return .failure(.notRunning) }
        do {
            try Topic.validateName(publish.topic)
        } catch {
            return .failure(.invalidTopic(publish.topic, reason: "\(error)"))
        }
        guard publish.payload.count <= configuration.maximumMessageSize else {
            return .failure(.messageTooLarge(topic: publish.topic, size: publish.payload.count, limit: configuration.maximumMessageSize))
        }
        guard case let .allowed(topic) = authorizePublish(publish.topic, by: session, now: clock.now) else {
            return .failure(.notAuthorized(clientID: clientID, topic: publish.topic))
        }
        self.publish(topic: topic, payload: publish.payload[...], qos: publish.qos, retain: publish.retain)
        return .success(())
    }

    func subscribeLocal(_ clientID: String, _ requested: [Subscription]) -> Result<[SubscribeReturnCode], BrokerError> {
        guard let session = localSession(clientID) else { return .failure(.notRunning) }
        for subscription in requested {
            do {
                try Topic.validateFilter(subscription.filter)
            } catch {
                return .failure(.invalidTopic(subscription.filter, reason: "\(error)"))
            }
        }
        let (codes, granted) = addSubscriptions(requested, to: session)
        replayRetained(granted, to: session)
        return .success(codes)
    }

    func unsubscribeLocal(_ clientID: String, _ filters: [String]) -> Result<Void, BrokerError> {
        guard let session = localSession(clientID) else { return .failure(.notRunning) }
        removeSubscriptions(filters, from: session)
        return .success(())
    }
}
