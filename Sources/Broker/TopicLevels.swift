/// One level of a topic tree: the levels below it by name, and what ends at it.
final class TopicLevelNode<Payload> {
    var children: [String: TopicLevelNode] = [:]
    var payload: Payload

    init(_ payload: Payload) {
        self.payload = payload
    }
}

/// What the broker's topic trees (the subscription tree, the retained store) share whatever they
/// hold: finding and making the node of a name, pruning the branch to a node that was emptied, and
/// freeing. A name may have 65,535 levels ("/" repeated fills the 65,535 bytes a topic may have,
/// 1.5.3), far too deep to recurse on a thread's stack: every walk here, and in the trees built on
/// this, uses an explicit stack. Owned by one thread (the broker's reactor); not thread-safe.
final class TopicLevels<Payload> {
    typealias Node = TopicLevelNode<Payload>

    let root: Node
    private let empty: Payload
    private let holdsNothing: (Payload) -> Bool

    /// `empty` is what a new node holds; `holdsNothing` tells a node that may be pruned once it
    /// leads nowhere.
    init(empty: Payload, holdsNothing: @escaping (Payload) -> Bool) {
        self.empty = empty
        self.holdsNothing = holdsNothing
        root = Node(empty)
    }

    deinit {
        // Dismantle from the top: letting ARC free a 65,535-level chain would recurse that deep.
        var pending = [root]
        while let node = pending.popLast() {
            pending.append(contentsOf: node.children.values)
            node.children.removeAll()
        }
    }

    /// The node of `name` (a topic name or filter), if there is one.
    func node(of name: String) -> Node? {
        var node = root
        for level in Self.levels(of: name) {
            guard let child = node.children[level] else { return nil }
            node = child
        }
        return node
    }

    /// The node of `name`, made with whatever levels are missing.
    func node(making name: String) -> Node {
        var node = root
        for level in Self.levels(of: name) {
            if let child = node.children[level] {
                node = child
            } else {
                let child = Node(empty)
                node.children[level] = child
                node = child
            }
        }
        return node
    }

    /// The node of `name` with the (parent, level) pairs that lead to it, for `prune`; nil if
    /// there is no such node.
    func branch(to name: String) -> (node: Node, path: [(parent: Node, level: String)])? {
        var path: [(parent: Node, level: String)] = []
        var node = root
        for level in Self.levels(of: name) {
            guard let child = node.children[level] else { return nil }
            path.append((node, level))
            node = child
        }
        return (node, path)
    }

    /// Removes `node` and the nodes above it on `path` that hold nothing and lead nowhere,
    /// bottom-up, so each release frees one node whose children are already gone.
    func prune(_ node: Node, path: [(parent: Node, level: String)]) {
        var path = path
        var current = node
        while current.children.isEmpty, holdsNothing(current.payload), let (parent, level) = path.popLast() {
            parent.children.removeValue(forKey: level)
            current = parent
        }
    }

    /// Number of level nodes below the root: zero when nothing is held (shows that pruning works).
    var nodeCount: Int {
        var total = 0
        var pending = [root]
        while let node = pending.popLast() {
            total += node.children.count
            pending.append(contentsOf: node.children.values)
        }
        return total
    }

    static func levels(of text: String) -> [String] {
        text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }
}
