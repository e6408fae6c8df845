/// The delays between attempts.
extension UpstreamLinkMachine {
    /// The delay before attempt `attempt + 1` after `attempt` failures in a row (1-based):
    /// doubling from the initial delay, capped, then moved by ± jitter of itself.
    mutating func backoffDelay(attempt: Int) -> Duration {
        let policy = configuration.reconnect
        var base = policy.initialDelay
        for _ in 1..<max(1, attempt) {
            base = base * 2
            if base >= policy.maximumDelay { break }
        }
        base = min(base, policy.maximumDelay)
        let jitter = min(max(policy.jitter, 0), 1)
        guard jitter > 0 else { return base }
        let factor = 1 + jitter * (2 * Double.random(in: 0..<1, using: &random) - 1)
        let (seconds, attoseconds) = base.components
        let nanoseconds = (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) * factor
        return .nanoseconds(Int64(nanoseconds.rounded()))
    }
}
