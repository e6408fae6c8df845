import GatewayCore
import Testing

@Suite("TopicLayout: every gateway topic built and parsed in one place")
struct TopicLayoutTests {
    let standard = TopicLayout.standard

    @Test("The standard layout builds today's topics exactly")
    func standardTopics() {
        #expect(standard.events(device: "oven-1") == "$devices/oven-1/events")
        #expect(standard.events(device: "oven-1", point: "temperature") == "$devices/oven-1/events/temperature")
        #expect(standard.ack(device: "oven-1") == "$devices/oven-1/events/ack")
        #expect(standard.state(device: "oven-1") == "$devices/oven-1/state")
        #expect(standard.topic(.devicePoint(device: "oven-1", point: "set_point")) == "$devices/oven-1/commands/set_point")
        #expect(standard.topic(.deviceBatch(device: "oven-1")) == "$devices/oven-1/commands")
        #expect(standard.topic(.registryPoint(registry: "plant", point: "mode")) == "$registries/plant/commands/mode")
        #expect(standard.topic(.registryBatch(registry: "plant")) == "$registries/plant/commands")
        #expect(standard.topic(.config(device: "oven-1")) == "$devices/oven-1/config")
        #expect(standard.commandFilters(device: "oven-1", registry: "plant") == [
            "$devices/oven-1/commands", "$devices/oven-1/commands/+", "$devices/oven-1/config",
            "$registries/plant/commands", "$registries/plant/commands/+",
        ])
    }

    @Test("Parsing a command topic gives what it asks, and nil for any other topic")
    func parsing() {
        #expect(standard.parse("$devices/oven-1/commands/set_point") == .devicePoint(device: "oven-1", point: "set_point"))
        #expect(standard.parse("$devices/oven-1/commands") == .deviceBatch(device: "oven-1"))
        #expect(standard.parse("$devices/oven-1/config") == .config(device: "oven-1"))
        #expect(standard.parse("$registries/plant/commands/mode") == .registryPoint(registry: "plant", point: "mode"))
        #expect(standard.parse("$registries/plant/commands") == .registryBatch(registry: "plant"))
        // `commands/+` matches an empty level too (MQTT 3.1.1 §4.7.1.3); the point is then "".
        #expect(standard.parse("$devices/oven-1/commands/") == .devicePoint(device: "oven-1", point: ""))
        for topic in ["$devices/oven-1/events", "$devices/oven-1/state", "$devices/oven-1/events/ack",
                      "$devices/oven-1/commands/a/b", "$devices//commands", "$devices/oven-1", "$registries/plant/config",
                      "devices/oven-1/commands", "$devices/oven-1/commandsx", "plant/oven-1/commands"] {
            #expect(standard.parse(topic) == nil, "\(topic)")
        }
    }

    @Test("A custom template builds and parses its own topics, and not the standard ones")
    func customTemplate() throws {
        let layout = try TopicLayout(device: "plant/{id}", registry: "site/{id}/gateway")
        #expect(layout.events(device: "oven-1") == "plant/oven-1/events")
        #expect(layout.state(device: "oven-1") == "plant/oven-1/state")
        #expect(layout.ack(device: "oven-1") == "plant/oven-1/events/ack")
        #expect(layout.commandFilters(device: "oven-1", registry: "north") == [
            "plant/oven-1/commands", "plant/oven-1/commands/+", "plant/oven-1/config",
            "site/north/gateway/commands", "site/north/gateway/commands/+",
        ])
        let commands: [CommandTopic] = [
            .devicePoint(device: "oven-1", point: "set_point"), .deviceBatch(device: "oven-1"), .config(device: "oven-1"),
            .registryPoint(registry: "north", point: "mode"), .registryBatch(registry: "north"),
        ]
        for command in commands {
            #expect(layout.parse(layout.topic(command)) == command)
            #expect(standard.parse(layout.topic(command)) == nil)
            #expect(layout.parse(standard.topic(command)) == nil)
        }
        #expect(layout.topic(.registryPoint(registry: "north", point: "mode")) == "site/north/gateway/commands/mode")
        #expect(layout.parse("site/north/commands") == nil)
    }

    @Test("A template without {id} as one whole level, or with a wildcard, is refused", arguments: [
        "devices", "devices/{id}/{id}", "devices/x{id}", "{id}x/devices", "devices/+/{id}", "devices/{id}/#",
    ])
    func invalidTemplate(template: String) {
        #expect(throws: GatewayError.self) { try TopicLayout(device: template, registry: "$registries/{id}") }
        #expect(throws: GatewayError.self) { try TopicLayout(device: "$devices/{id}", registry: template) }
    }
}
