import Mapping
import Synchronization

/// Runs a command once per request id and device within a window, whichever side it came from:
/// the same command can arrive from the embedded broker and from upstream (a consumer on each, or
/// a cloud rule copying it), or twice from one side (QoS 1 allows a duplicate). A command without
/// an `id` is never held back. Bounded: the oldest ids are forgotten past `capacity` per device.
package final class CommandDeduplicator: Sendable {
    private struct Seen {
        var order: [(id: String, at: ContinuousClock.Instant)] = []
        var ids: Set<String> = []
        var head = 0
    }

    private let window: Duration
    private let capacity: Int
    private let seen = Mutex<[String: Seen]>([:])

    package init(window: Duration, capacity: Int = 10_000) {
        self.window = window
        self.capacity = capacity
    }

    /// True if `input` for `deviceID` should run: it has no id, or its id was not seen within the window.
    package func admit(_ input: DeviceInput, device deviceID: String, at now: ContinuousClock.Instant = .now) -> Bool {
        guard let id = Self.requestID(of: input) else { return true }
        // Config messages carry desired state, not a request: a repeat of the same id is a repeat of the same values.
        let key = (input.topic.isConfig ? "config:" : "command:") + id
        return seen.withLock { all in
            var entry = all[deviceID] ?? Seen()
            defer { all[deviceID] = entry }
            // Forget what left the window (and the oldest past the capacity).
            while entry.head < entry.order.count,
                  entry.order[entry.head].at.duration(to: now) > window || entry.ids.count > capacity {
                entry.ids.remove(entry.order[entry.head].id)
                entry.head += 1
            }
            if entry.head > 1024 && entry.head * 2 > entry.order.count {
                entry.order.removeFirst(entry.head)
                entry.head = 0
            }
            guard entry.ids.insert(key).inserted else { return false }
            entry.order.append((key, now))
            return true
        }
    }

    /// The request's `id` as its JSON text (so 7 and "7" differ), if it has one.
    package static func requestID(of input: DeviceInput) -> String? {
        guard case let .success(message) = CommandMessage.parse(topic: input.topic, payload: input.payload) else { return nil }
        if case .null = message.id { return nil }
        return String(decoding: message.id.jsonBytes, as: UTF8.self)
    }
}
