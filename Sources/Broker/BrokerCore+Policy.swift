import MQTT

/// What the broker does for the policy beyond its hooks: publishing the policy's own messages
/// (monitoring) and logging refusals under a flood without flooding the log.
extension BrokerCore {
    /// Lines about refusals and denials per second; past it they are counted, and the count is
    /// logged once the second is over (1,000 wrong passwords leave a few lines, not a thousand).
    static let refusalLinesPerSecond = 20

    /// Tells the policy what a client did; what it then has due is asked for at the end of the turn.
    func recordActivity(_ activity: ClientActivity, now: ContinuousClock.Instant? = nil) {
        policy.record(activity, now: now ?? clock.now)
        policyActivity = true
    }

    /// Whether `session` may publish to `topic` (as sent) and as which topic, by its rules; either
    /// way the policy is told, and a refusal is counted. Socket and in-process clients alike.
    func authorizePublish(_ topic: String, by session: Session, now: ContinuousClock.Instant) -> PublishDecision {
        let decision = session.policy.publish(to: topic)
        switch decision {
        case .allowed:
            recordActivity(.published(session.identity), now: now)
        case let .denied(refusal):
            statistics.publishesDenied += 1
            recordActivity(.publishDenied(session.identity, topic: topic, refusal), now: now)
        }
        return decision
    }

    /// Publishes what the policy says is due (QoS 0, not retained), as the broker itself: no
    /// session's rules apply to it.
    func publishPolicyMessages(now: ContinuousClock.Instant) {
        for message in policy.dueMessages(now: now) {
            guard (try? Topic.validateName(message.topic)) != nil else {
                log(.warning, "policy_message_dropped", ["topic": message.topic, "reason": "not a valid topic name"])
                continue
            }
            publish(topic: message.topic, payload: message.payload[...], qos: .atMostOnce, retain: false)
        }
    }

    /// Logs a refusal or denial, at most `refusalLinesPerSecond` a second.
    func logRefusal(_ event: String, _ fields: KeyValuePairs<String, String>) {
        let now = clock.now
        if now >= refusalWindow.start.advanced(by: .seconds(1)) {
            if refusalWindow.suppressed > 0 {
                log(.warning, "refusals_not_logged", ["count": "\(refusalWindow.suppressed)", "window": "1s"])
            }
            refusalWindow = (now, 0, 0)
        }
        refusalWindow.lines += 1
        if refusalWindow.lines > Self.refusalLinesPerSecond {
            refusalWindow.suppressed += 1
            statistics.refusalLogsSuppressed += 1
            return
        }
        logger.log(.warning, event, fields)
    }
}
