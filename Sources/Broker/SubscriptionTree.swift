import MQTT

/// Topic filters by level, for finding every subscriber of a topic without scanning all
/// filters. Owned by one thread (the broker's reactor); not thread-safe.
///
/// `+` and `#` are stored as ordinary level keys: topic names cannot contain them (3.3.2.1), so a
/// key "+" can only come from a filter.
package final class SubscriptionTree<Subscriber: Hashable> {
    /// At each node: the subscribers whose filter ends there, with their QoS.
    private typealias Node = TopicLevelNode<[Subscriber: QoS]>
    private let tree = TopicLevels<[Subscriber: QoS]>(empty: [:], holdsNothing: \.isEmpty)
    /// Number of (subscriber, filter) pairs.
    package private(set) var count = 0

    package init() {}

    /// Adds or replaces `subscriber`'s subscription to `filter` (valid); returns true if it is new.
    @discardableResult
    package func insert(_ subscriber: Subscriber, filter: String, qos: QoS) -> Bool {
        let isNew = tree.node(making: filter).payload.updateValue(qos, forKey: subscriber) == nil
        if isNew { count += 1 }
        return isNew
    }

    /// Removes `subscriber`'s subscription to `filter`; returns true if there was one.
    @discardableResult
    package func remove(_ subscriber: Subscriber, filter: String) -> Bool {
        guard let (node, path) = tree.branch(to: filter),
              node.payload.removeValue(forKey: subscriber) != nil else { return false }
        count -= 1
        tree.prune(node, path: path)
        return true
    }

    /// Every subscriber whose filters match `topic`, each once, with the highest QoS among its
    /// matching subscriptions (3.3.5). Filters starting with a wildcard do not match `$` topics.
    /// An explicit stack, not recursion: a topic may have 65,536 levels ("/" repeated), too deep
    /// to recurse on the reactor thread's stack.
    package func subscribers(of topic: String) -> [Subscriber: QoS] {
        var found: [Subscriber: QoS] = [:]
        let levels = TopicLevels<[Subscriber: QoS]>.levels(of: topic)
        let isSystemTopic = topic.utf8.first == UInt8(ascii: "$")
        // (node reached, number of topic levels consumed to reach it)
        var pending: [(node: Node, depth: Int)] = [(tree.root, 0)]
        while let (node, depth) = pending.popLast() {
            let wildcardsAllowed = !(depth == 0 && isSystemTopic)
            if wildcardsAllowed, let rest = node.children["#"] {
                // `#` matches this level and everything below it, and the parent level itself.
                merge(rest.payload, into: &found)
            }
            guard depth < levels.count else {
                merge(node.payload, into: &found)
                continue
            }
            if wildcardsAllowed, let any = node.children["+"] {
                pending.append((any, depth + 1))
            }
            if let exact = node.children[levels[depth]] {
                pending.append((exact, depth + 1))
            }
        }
        return found
    }

    private func merge(_ subscribers: [Subscriber: QoS], into found: inout [Subscriber: QoS]) {
        for (subscriber, qos) in subscribers {
            if let existing = found[subscriber], existing >= qos { continue }
            found[subscriber] = qos
        }
    }
}
