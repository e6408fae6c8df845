/// When a point's new reading is published: its report rule against what was published last.
package struct ReportFilter: Sendable {
    package let rule: ReportRule
    /// The reading published last, and when (kept for an `onChange` rule only).
    package private(set) var lastPublished: PointReading?
    private var lastPublishedAt: ContinuousClock.Instant?

    package init(rule: ReportRule) {
        self.rule = rule
    }

    /// Whether `reading`, read at `now`, is to be published; if so, and the rule compares readings
    /// (`onChange`), it becomes the last published. A rule that publishes every read keeps nothing.
    package mutating func admit(_ reading: PointReading, at now: ContinuousClock.Instant) -> Bool {
        guard wants(reading, at: now) else { return false }
        if rule.onChange {
            lastPublished = reading
            lastPublishedAt = now
        }
        return true
    }

    /// Forgets the last published reading: the next one is published whatever it is (after the
    /// device comes back online, or a write to the point).
    package mutating func reset() {
        lastPublished = nil
        lastPublishedAt = nil
    }

    private func wants(_ reading: PointReading, at now: ContinuousClock.Instant) -> Bool {
        guard rule.onChange, let last = lastPublished, let lastAt = lastPublishedAt else { return true }
        if let heartbeat = rule.heartbeat, heartbeat > .zero, lastAt.duration(to: now) >= heartbeat { return true }
        if case let .value(new) = reading, case let .value(old) = last,
           let newNumber = new.numberValue, let oldNumber = old.numberValue, rule.deadband > 0 {
            // A tolerance so that 65.4 after 65.3 counts as a change of 0.1 against a deadband of 0.1.
            return abs(newNumber - oldNumber) >= rule.deadband * (1 - 1e-9)
        }
        return reading != last
    }
}
