import MQTT
import Testing

@Suite("Topic filters and names (4.7)")
struct TopicTests {
    @Test("Matching: the specification's examples, $ topics, the parent of #", arguments: [
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/#", "sport", true),
        ("#", "sport/tennis", true),
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("#", "$SYS/monitor/Clients", false),
        ("$SYS/#", "$SYS/monitor/Clients", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        ("$devices/+/events", "$devices/oven1/events", true),
        ("a/b", "a/b", true),
        ("a/b", "a/bc", false),
        ("a/b/c", "a/b", false),
    ])
    func matching(filter: String, topic: String, expected: Bool) throws {
        try Topic.validateFilter(filter)
        try Topic.validateName(topic)
        #expect(Topic.matches(filter: filter, topic: topic) == expected)
    }

    @Test("Valid filters pass; invalid ones are refused")
    func filters() {
        for valid in ["#", "+", "/", "sport/+/player1", "sport/#", "+/tennis/#", "//", "$SYS/#"] {
            #expect(throws: Never.self) { try Topic.validateFilter(valid) }
        }
        for invalid in ["sport/tennis#", "sport/tennis/#/ranking", "sport+", "", "#/"] {
            #expect(throws: MQTTError.self) { try Topic.validateFilter(invalid) }
        }
    }
}
