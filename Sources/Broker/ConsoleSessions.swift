/// The console's logins: a random token (the session cookie's value) per login, with the entity
/// it proves, ending when unused for `idle` or at `lifetime` after the login. Reactor thread only.
struct ConsoleSessions {
    private struct Entry {
        let entity: String
        let created: ContinuousClock.Instant
        var lastUsed: ContinuousClock.Instant
    }

    let idle: Duration
    let lifetime: Duration
    let maximum: Int
    private var entries: [String: Entry] = [:]

    init(idle: Duration, lifetime: Duration, maximum: Int) {
        self.idle = idle
        self.lifetime = lifetime
        self.maximum = maximum
    }

    var count: Int { entries.count }

    /// Starts a session for `entity` under `token`; the least recently used one goes first when full.
    mutating func start(token: String, entity: String, now: ContinuousClock.Instant) {
        if entries.count >= maximum, let oldest = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            entries[oldest] = nil
        }
        entries[token] = Entry(entity: entity, created: now, lastUsed: now)
    }

    /// The entity `token` proves, if its session is still valid; using it keeps it alive.
    mutating func entity(for token: String, now: ContinuousClock.Instant) -> String? {
        guard let entry = entries[token] else { return nil }
        if entry.lastUsed.duration(to: now) > idle || entry.created.duration(to: now) > lifetime {
            entries[token] = nil
            return nil
        }
        entries[token]?.lastUsed = now
        return entry.entity
    }

    mutating func end(token: String) {
        entries[token] = nil
    }

    /// Drops expired sessions (the sweep's work, so an abandoned login holds no memory for long).
    mutating func expire(now: ContinuousClock.Instant) {
        entries = entries.filter { $0.value.lastUsed.duration(to: now) <= idle && $0.value.created.duration(to: now) <= lifetime }
    }
}
