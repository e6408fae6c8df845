/// IOT-CORE.md, permanent topics: `$devices/<id>/state|config` and `$registries/<rid>/state|config`,
/// with any subtopic. Read on every PUBLISH, so it walks the UTF-8 bytes without allocating.
enum PermanentTopics {
    static func contains(_ topic: String) -> Bool {
        var utf8 = topic.utf8[...]
        if utf8.starts(with: "$devices/".utf8) {
            utf8 = utf8.dropFirst(9)
        } else if utf8.starts(with: "$registries/".utf8) {
            utf8 = utf8.dropFirst(12)
        } else {
            return false
        }
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")), slash != utf8.startIndex else { return false }
        let leaf = utf8[utf8.index(after: slash)...]
        return isLevel(leaf, "state") || isLevel(leaf, "config")
    }

    /// Whether `bytes` start with the level `name`, followed by the end or a subtopic.
    private static func isLevel(_ bytes: Substring.UTF8View, _ name: String) -> Bool {
        guard bytes.starts(with: name.utf8) else { return false }
        let rest = bytes.dropFirst(name.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }
}
