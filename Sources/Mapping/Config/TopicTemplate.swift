/// The rule for `broker.upstream.topics` root templates (`$devices/{id}`, `plant/{id}`): the same
/// rule as GatewayCore's `TopicLayout`, which builds topics from them, checked here so that a
/// config it would refuse never loads.
package enum TopicTemplate {
    /// What `template` would need to be a valid root template (for "expected ..."), or nil if it is one.
    package static func problem(_ template: String) -> String? {
        let levels = template.split(separator: "/", omittingEmptySubsequences: false)
        let idLevels = levels.filter { $0 == "{id}" }.count
        let idTexts = template.split(separator: "{id}", omittingEmptySubsequences: false).count - 1
        if template.contains("+") || template.contains("#") {
            return "a topic template without the wildcards '+' and '#'"
        }
        if idLevels != 1 || idTexts != 1 {
            return "a topic template with {id} exactly once, as a whole level, such as \"plant/{id}\""
        }
        // MQTT 3.1.1 section 1.5.3: no U+0000 in a topic; control characters are refused too.
        if template.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return "a topic template without control characters"
        }
        if template.utf8.count > TopicAlias.maximumBytes {
            return "a topic template of at most \(TopicAlias.maximumBytes) bytes"
        }
        return nil
    }
}
