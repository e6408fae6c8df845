/// The rules for a device's topic aliases (docs/iot-core.md, "Aliases and `$me`").
package enum TopicAlias {
    /// A subtopic's limit in the contract; an alias is at most that long.
    static let maximumBytes = 1024

    /// What `text` would need to be a valid alias (for "expected ..."), or nil if it is one.
    package static func problem(_ text: String) -> String? {
        if text.isEmpty { return "a topic prefix such as \"plant/oven1/\", not an empty string" }
        if text.contains("+") || text.contains("#") { return "a topic prefix without the wildcards '+' and '#'" }
        if text.hasPrefix("$") { return "a topic prefix that does not start with '$' (reserved for $devices, $registries, $me, $monitoring)" }
        if text.utf8.count > maximumBytes { return "a topic prefix of at most \(maximumBytes) bytes" }
        // MQTT 3.1.1 section 1.5.3: no U+0000 in a topic; control characters are refused too.
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return "a valid topic prefix (no control characters)"
        }
        if text.allSatisfy({ $0 == "/" }) { return "a valid topic prefix with at least one level name, such as \"plant/oven1/\"" }
        return nil
    }

    /// `text` ending with "/", so that `plant/oven1` and `plant/oven1/` are one alias and a
    /// prefix test compares whole levels.
    package static func normalized(_ text: String) -> String {
        text.hasSuffix("/") ? text : text + "/"
    }
}
