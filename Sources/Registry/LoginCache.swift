import Synchronization
import TLS

/// Passwords that logged in before, so that a device reconnecting skips the slow hash: per
/// entity, the keyed digest SHA-256(process secret ‖ password) of its last few good passwords.
/// The secret is random per process, so the digests mean nothing outside it. Read on the
/// reactor thread, filled on the login thread: a Mutex.
final class LoginCache: Sendable {
    /// Good passwords remembered per entity (a device with several passwords, during rotation).
    static let entriesPerEntity = 4

    private let entries = Mutex<[String: [[UInt8]]]>([:])
    /// Drawn on the first password login, not at start: a gateway whose clients never send a
    /// password never initialises OpenSSL's random generator (about 3 MiB of resident pages).
    private let secretStore = Mutex<[UInt8]?>(nil)

    init() {}

    private var secret: [UInt8] {
        secretStore.withLock { stored in
            if let stored { return stored }
            // Without random bytes the cache stays off: every login pays the hash, none is wrong.
            let drawn = (try? Digests.randomBytes(32)) ?? []
            stored = drawn
            return drawn
        }
    }

    private func key(_ password: [UInt8]) -> [UInt8]? {
        let secret = self.secret
        guard !secret.isEmpty else { return nil }
        return try? Digests.sha256(secret + password)
    }

    /// Whether `password` logged in as `entity` before.
    func contains(entity: String, password: [UInt8]) -> Bool {
        guard let key = key(password) else { return false }
        return entries.withLock { $0[entity]?.contains(key) ?? false }
    }

    /// Remembers a good password of `entity`, the oldest of its entries going first.
    func insert(entity: String, password: [UInt8]) {
        guard let key = key(password) else { return }
        entries.withLock { entries in
            var list = entries[entity, default: []]
            list.removeAll { $0 == key }
            list.append(key)
            if list.count > Self.entriesPerEntity { list.removeFirst(list.count - Self.entriesPerEntity) }
            entries[entity] = list
        }
    }
}
