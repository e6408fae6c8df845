import MQTT

/// Messages kept per topic name (retained messages), indexed by topic level so that a filter
/// finds what it matches without scanning every topic: a SUBSCRIBE costs in proportion to the
/// nodes its filter reaches, not to the number of topics held. Owned by one thread (the broker's
/// reactor); not thread-safe.
///
/// Each topic level is a node; a message sits on the node of its topic's last level. Nodes that
/// hold no message and lead to none are removed at once, so memory follows what is held under
/// any churn. Walks use an explicit stack: a topic may have 65,536 levels ("/" repeated), too
/// deep to recurse on a thread's stack.
package final class RetainedStore<Message> {
    /// At each node: the message kept on the topic that ends there, with that topic's name.
    private typealias Entry = (topic: String, message: Message)
    private typealias Node = TopicLevelNode<Entry?>
    private let tree = TopicLevels<Entry?>(empty: nil, holdsNothing: { $0 == nil })
    /// Number of topics holding a message.
    package private(set) var count = 0

    package init() {}

    /// The message kept on `topic` (a topic name, not a filter), if any.
    package subscript(topic: String) -> Message? {
        tree.node(of: topic)?.payload?.message
    }

    /// Keeps `message` on `topic` (a valid topic name), replacing what was there; returns the
    /// message replaced.
    @discardableResult
    package func set(_ message: Message, for topic: String) -> Message? {
        let node = tree.node(making: topic)
        let previous = node.payload?.message
        if previous == nil { count += 1 }
        node.payload = (topic, message)
        return previous
    }

    /// Removes the message kept on `topic` and prunes the nodes that no longer lead to one;
    /// returns the message removed.
    @discardableResult
    package func remove(_ topic: String) -> Message? {
        guard let (node, path) = tree.branch(to: topic), let removed = node.payload?.message else { return nil }
        node.payload = nil
        count -= 1
        tree.prune(node, path: path)
        return removed
    }

    /// Calls `visit` with each kept message whose topic `filter` (a valid topic filter) matches,
    /// in no particular order, until `visit` returns false. `+` walks one level's children, `#`
    /// takes the level it follows and everything below it (MQTT 3.1.1 §4.7.1.2); a filter that
    /// starts with a wildcard does not match topics starting with `$` (§4.7.2). Returns the
    /// number of messages visited.
    @discardableResult
    package func forEachMatch(of filter: String, _ visit: (_ topic: String, _ message: Message) -> Bool) -> Int {
        let levels = TopicLevels<Entry?>.levels(of: filter)
        var visited = 0
        // (node reached, index of the filter level that applies below it)
        var pending: [(node: Node, depth: Int)] = [(tree.root, 0)]
        while let (node, depth) = pending.popLast() {
            guard depth < levels.count else {
                if let entry = node.payload {
                    visited += 1
                    if !visit(entry.topic, entry.message) { return visited }
                }
                continue
            }
            let level = levels[depth]
            let hidesSystemTopics = depth == 0
            if level == "#" {
                // "a/#" matches "a" itself (the root holds no message, so "#" adds nothing here).
                if let entry = node.payload {
                    visited += 1
                    if !visit(entry.topic, entry.message) { return visited }
                }
                var subtree = Array(Self.children(of: node, hidingSystemTopics: hidesSystemTopics))
                while let next = subtree.popLast() {
                    if let entry = next.payload {
                        visited += 1
                        if !visit(entry.topic, entry.message) { return visited }
                    }
                    subtree.append(contentsOf: next.children.values)
                }
            } else if level == "+" {
                for child in Self.children(of: node, hidingSystemTopics: hidesSystemTopics) {
                    pending.append((child, depth + 1))
                }
            } else if let child = node.children[level] {
                pending.append((child, depth + 1))
            }
        }
        return visited
    }

    /// Every kept message whose topic `filter` matches, as (topic, message) pairs.
    package func matches(of filter: String) -> [(topic: String, message: Message)] {
        var found: [(topic: String, message: Message)] = []
        forEachMatch(of: filter) { topic, message in
            found.append((topic, message))
            return true
        }
        return found
    }

    /// Calls `body` with every kept message, `$` topics included (for persistence and compaction).
    package func forEach(_ body: (_ topic: String, _ message: Message) -> Void) {
        var pending = [tree.root]
        while let node = pending.popLast() {
            if let entry = node.payload { body(entry.topic, entry.message) }
            pending.append(contentsOf: node.children.values)
        }
    }

    /// Number of level nodes below the root: zero when nothing is kept (shows that pruning works).
    package var nodeCount: Int { tree.nodeCount }

    private static func children(of node: Node, hidingSystemTopics: Bool) -> some Sequence<Node> {
        node.children.lazy.filter { !hidingSystemTopics || $0.key.utf8.first != UInt8(ascii: "$") }.map(\.value)
    }
}
