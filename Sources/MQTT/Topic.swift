/// Topic names and topic filters (MQTT 3.1.1, 4.7).
package enum Topic {
    private static let separator = UInt8(ascii: "/")
    private static let singleLevel = UInt8(ascii: "+")
    private static let multiLevel = UInt8(ascii: "#")
    private static let dollar = UInt8(ascii: "$")

    /// Checks a topic name for PUBLISH: non-empty, no wildcards.
    package static func validateName(_ name: String) throws(MQTTError) {
        if name.isEmpty { throw .emptyTopicName }
        if name.utf8.contains(where: { $0 == singleLevel || $0 == multiLevel }) { throw .wildcardInTopicName(name) }
    }

    /// Checks a topic filter for SUBSCRIBE and UNSUBSCRIBE: non-empty; `+` and `#` only as whole
    /// levels; `#` only as the last level.
    package static func validateFilter(_ filter: String) throws(MQTTError) {
        if filter.isEmpty { throw .invalidTopicFilter(filter, reason: "empty") }
        let levels = filter.utf8.split(separator: separator, omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains(multiLevel) {
                if level.count != 1 { throw .invalidTopicFilter(filter, reason: "'#' must be a whole level") }
                if index != levels.count - 1 { throw .invalidTopicFilter(filter, reason: "'#' must be the last level") }
            }
            if level.contains(singleLevel) && level.count != 1 {
                throw .invalidTopicFilter(filter, reason: "'+' must be a whole level")
            }
        }
    }

    /// True if `filter` (valid) matches the topic name `topic` (valid). A filter that starts with a
    /// wildcard does not match topics that start with `$` (4.7.2); `a/#` also matches `a` (4.7.1.2).
    package static func matches(filter: String, topic: String) -> Bool {
        if topic.utf8.first == dollar, let first = filter.utf8.first, first == singleLevel || first == multiLevel {
            return false
        }
        let topicLevels = topic.utf8.split(separator: separator, omittingEmptySubsequences: false)
        var index = 0
        for level in filter.utf8.split(separator: separator, omittingEmptySubsequences: false) {
            if level.count == 1 && level.first == multiLevel { return true }
            guard index < topicLevels.count else { return false }
            let wildcard = level.count == 1 && level.first == singleLevel
            if !wildcard && !level.elementsEqual(topicLevels[index]) { return false }
            index += 1
        }
        return index == topicLevels.count
    }
}
