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
public final class RetainedStore<Message> {
    private final class Node {
        var children: [String: Node] = [:]
        /// The message kept on the topic that ends at this node, with that topic's name.
        var entry: (topic: String, message: Message)?

        var isEmpty: Bool { entry == nil && children.isEmpty }
    }

    private let root = Node()
    /// Number of topics holding a message.
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

    /// The message kept on `topic` (a topic name, not a filter), if any.
    public subscript(topic: String) -> Message? {
        var node = root
        for level in Self.levels(of: topic) {
            guard let child = node.children[level] else { return nil }
            node = child
        }
        return node.entry?.message
    }

    /// Keeps `message` on `topic` (a valid topic name), replacing what was there; returns the
    /// message replaced.
    @discardableResult
    public func set(_ message: Message, for topic: String) -> Message? {
        var node = root
        for level in Self.levels(of: topic) {
            if let child = node.children[level] {
                node = child
            } else {
                let child = Node()
                node.children[level] = child
                node = child
            }
        }
        let previous = node.entry?.message
        if previous == nil { count += 1 }
        node.entry = (topic, message)
        return previous
    }

    /// Removes the message kept on `topic` and prunes the nodes that no longer lead to one;
    /// returns the message removed.
    @discardableResult
    public func remove(_ topic: String) -> Message? {
        var path: [(parent: Node, level: String)] = []
        var node = root
        for level in Self.levels(of: topic) {
            guard let child = node.children[level] else { return nil }
            path.append((node, level))
            node = child
        }
        guard let removed = node.entry?.message else { return nil }
        node.entry = nil
        count -= 1
        // Bottom-up, so each release frees one node whose children are already gone.
        var current = node
        while current.isEmpty, let (parent, level) = path.popLast() {
            parent.children.removeValue(forKey: level)
            current = parent
        }
        return removed
    }

    /// Calls `visit` with each kept message whose topic `filter` (a valid topic filter) matches,
    /// in no particular order, until `visit` returns false. `+` walks one level's children, `#`
    /// takes the level it follows and everything below it (MQTT 3.1.1 §4.7.1.2); a filter that
    /// starts with a wildcard does not match topics starting with `$` (§4.7.2). Returns the
    /// number of messages visited.
    @discardableResult
    public func forEachMatch(of filter: String, _ visit: (_ topic: String, _ message: Message) -> Bool) -> Int {
        let levels = Self.levels(of: filter)
        var visited = 0
        // (node reached, index of the filter level that applies below it)
        var pending: [(node: Node, depth: Int)] = [(root, 0)]
        while let (node, depth) = pending.popLast() {
            guard depth < levels.count else {
                if let entry = node.entry {
                    visited += 1
                    if !visit(entry.topic, entry.message) { return visited }
                }
                continue
            }
            let level = levels[depth]
            let hidesSystemTopics = depth == 0
            if level == "#" {
                // "a/#" matches "a" itself (the root holds no message, so "#" adds nothing here).
                if let entry = node.entry {
                    visited += 1
                    if !visit(entry.topic, entry.message) { return visited }
                }
                var subtree = Array(Self.children(of: node, hidingSystemTopics: hidesSystemTopics))
                while let next = subtree.popLast() {
                    if let entry = next.entry {
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
    public func matches(of filter: String) -> [(topic: String, message: Message)] {
        var found: [(topic: String, message: Message)] = []
        forEachMatch(of: filter) { topic, message in
            found.append((topic, message))
            return true
        }
        return found
    }

    /// Calls `body` with every kept message, `$` topics included (for persistence and compaction).
    public func forEach(_ body: (_ topic: String, _ message: Message) -> Void) {
        var pending = [root]
        while let node = pending.popLast() {
            if let entry = node.entry { body(entry.topic, entry.message) }
            pending.append(contentsOf: node.children.values)
        }
    }

    /// Number of level nodes below the root: zero when nothing is kept (shows that pruning works).
    public var nodeCount: Int {
        var total = 0
        var pending = [root]
        while let node = pending.popLast() {
            total += node.children.count
            pending.append(contentsOf: node.children.values)
        }
        return total
    }

    private static func children(of node: Node, hidingSystemTopics: Bool) -> some Sequence<Node> {
        node.children.lazy.filter { !hidingSystemTopics || $0.key.utf8.first != UInt8(ascii: "$") }.map(\.value)
    }

    private static func levels(of text: String) -> [String] {
        text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }
}
