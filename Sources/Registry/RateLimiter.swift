/// A token bucket for one entity's messages per second, shared by all its sessions; the burst
/// is one second's worth. `@unchecked Sendable`: only the broker's reactor thread touches it
/// (`SessionPolicy.pauseAfterPublish`), so its state needs no lock.
final class TokenBucket: @unchecked Sendable {
    let perSecond: Int
    private var tokens: Double
    private var refilled: ContinuousClock.Instant?

    init(perSecond: Int) {
        self.perSecond = max(1, perSecond)
        tokens = Double(self.perSecond)
    }

    /// Takes one message's token: how long the sender must wait before its next message so
    /// that the rate holds (zero while the burst lasts).
    func take(now: ContinuousClock.Instant) -> Duration {
        let rate = Double(perSecond)
        if let refilled {
            let elapsed = refilled.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            tokens = min(rate, tokens + max(0, seconds) * rate)
        }
        refilled = now
        tokens -= 1
        guard tokens < 0 else { return .zero }
        return .nanoseconds(Int64((-tokens / rate * 1e9).rounded(.up)))
    }
}

/// The buckets of every entity, made once with the policy (none without a limit).
struct RateLimiter: Sendable {
    private let buckets: [String: TokenBucket]

    init(index: RegistryIndex, messagesPerSecond: Int?) {
        guard let messagesPerSecond, messagesPerSecond > 0 else {
            buckets = [:]
            return
        }
        buckets = index.entities.mapValues { _ in TokenBucket(perSecond: messagesPerSecond) }
    }

    func bucket(for entityID: String) -> TokenBucket? { buckets[entityID] }
}
