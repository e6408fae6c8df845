import MQTT

/// Topic filters by level, for finding every subscriber of a topic without scanning all
/// filters. Owned by one thread (the broker's reactor); not thread-safe.
///
/// `+` and `#` are stored as ordinary level keys: topic names cannot contain them (3.3.2.1), so a
/// key "+" can only come from a filter.
public final class SubscriptionTree<Subscriber: Hashable> {
    private final class Node {
        var children: [String: Node] = [:]
        /// Subscribers whose filter ends at this node, with their QoS.
        var subscribers: [Subscriber: QoS] = [:]

        var isEmpty: Bool { children.isEmpty && subscribers.isEmpty }
    }

    private let root = Node()
    /// Number of (subscriber, filter) pairs.
    public private(set) var count = 0

    public init() {}

    deinit {
        // Dismantle from the top: letting ARC free a 65,536-level chain would recurse that deep.
        var pending = [root]
        while let node = pending.popLast() {
            pending.append(contentsOf: node.children.values)
            node.children.removeAll()
        }
    }

    /// Adds or replaces `subscriber`'s subscription to `filter` (valid); returns true if it is new.
    @discardableResult
    public func insert(_ subscriber: Subscriber, filter: String, qos: QoS) -> Bool {
        var node = root
        for level in Self.levels(of: filter) {
            if let child = node.children[level] {
                node = child
            } else {
                let child = Node()
                node.children[level] = child
                node = child
            }
        }
        let isNew = node.subscribers.updateValue(qos, forKey: subscriber) == nil
        if isNew { count += 1 }
        return isNew
    }

    /// Removes `subscriber`'s subscription to `filter`; returns true if there was one.
    @discardableResult
    public func remove(_ subscriber: Subscriber, filter: String) -> Bool {
        var path: [(Node, String)] = []
        var node = root
        for level in Self.levels(of: filter) {
            guard let child = node.children[level] else { return false }
            path.append((node, level))
            node = child
        }
        guard node.subscribers.removeValue(forKey: subscriber) != nil else { return false }
        count -= 1
        // Prune the nodes that no longer lead anywhere.
        var current = node
        while let (parent, level) = path.popLast(), current.isEmpty {
            parent.children.removeValue(forKey: level)
            current = parent
        }
        return true
    }

    /// Every subscriber whose filters match `topic`, each once, with the highest QoS among its
    /// matching subscriptions (3.3.5). Filters starting with a wildcard do not match `$` topics.
    /// An explicit stack, not recursion: a topic may have 65,536 levels ("/" repeated), too deep
    /// to recurse on the reactor thread's stack.
    public func subscribers(of topic: String) -> [Subscriber: QoS] {
        var found: [Subscriber: QoS] = [:]
        let levels = Self.levels(of: topic)
        let isSystemTopic = topic.utf8.first == UInt8(ascii: "$")
        // (node reached, number of topic levels consumed to reach it)
        var pending: [(node: Node, depth: Int)] = [(root, 0)]
        while let (node, depth) = pending.popLast() {
            let wildcardsAllowed = !(depth == 0 && isSystemTopic)
            if wildcardsAllowed, let rest = node.children["#"] {
                // `#` matches this level and everything below it, and the parent level itself.
                merge(rest.subscribers, into: &found)
            }
            guard depth < levels.count else {
                merge(node.subscribers, into: &found)
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

    private static func levels(of text: String) -> [String] {
        text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }
}
