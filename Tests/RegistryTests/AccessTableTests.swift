import Broker
import Registry
import Testing

@Suite("Registry: the contract's access table, row by row, for a device and a registry")
struct AccessTableTests {
    let policy: RegistryPolicy

    init() throws { policy = RegistryPolicy(try RegistryFixture().directory) }

    @Test("A device publishes its own and its registry's events and state (subtopics too), nothing else")
    func devicePublishes() {
        let oven = policy.rules("oven-1")
        for topic in ["$devices/oven-1/events", "$devices/oven-1/state", "$devices/oven-1/events/zone/2",
                      "$registries/plant-1/events", "$registries/plant-1/state/summary"] {
            #expect(oven.allowed(topic) == topic, "\(topic)")
        }
        for topic in ["$devices/oven-1/commands", "$devices/oven-1/config", "$devices/oven-1/eventsx", "$devices/oven-1",
                      "$devices/oven-2/events", "$devices/oven-2/state", "$registries/plant-1/commands", "$registries/plant-1/config",
                      "$devices/pump-1/events", "$registries/other/events", "$monitoring/oven-1/json", "plain/topic", "$SYS/x"] {
            #expect(oven.allowed(topic) == nil, "\(topic)")
        }
        guard case let .denied(refusal) = oven.publish(to: "$devices/oven-2/events") else { Issue.record("allowed"); return }
        #expect(refusal.entity == "oven-1" && refusal.reason.contains("$devices/oven-2/events"))
    }

    @Test("A device subscribes to its own and its registry's commands and config and its registry's monitoring, nothing else")
    func deviceSubscribes() {
        let oven = policy.rules("oven-1")
        for filter in ["$devices/oven-1/commands", "$devices/oven-1/config", "$devices/oven-1/commands/setpoint/#",
                       "$registries/plant-1/commands", "$registries/plant-1/config", "$monitoring/oven-1/json", "$monitoring/oven-2/json"] {
            #expect(oven.subscribe(to: filter) == [FilterRewrite(filter: filter)], "\(filter)")
        }
        for filter in ["$devices/oven-1/events", "$devices/oven-1/state", "$devices/oven-2/commands", "$devices/oven-2/events",
                       "$registries/plant-1/events", "$registries/plant-1/state", "$registries/other/commands",
                       "$devices/pump-1/commands", "$monitoring/pump-1/json", "$SYS/#", "$devices/+", "$registries/+"] {
            #expect(oven.subscribe(to: filter).isEmpty, "\(filter)")
        }
    }

    @Test("A registry publishes its devices' and its own commands and config, nothing else")
    func registryPublishes() {
        let plant = policy.rules("plant-1")
        for topic in ["$devices/oven-1/commands", "$devices/oven-2/config", "$devices/meter-1/commands/write/hr/3",
                      "$registries/plant-1/commands", "$registries/plant-1/config"] {
            #expect(plant.allowed(topic) == topic, "\(topic)")
        }
        for topic in ["$devices/oven-1/events", "$devices/oven-1/state", "$registries/plant-1/events", "$registries/plant-1/state",
                      "$devices/pump-1/commands", "$registries/other/commands", "$monitoring/oven-1/json", "$devices/plant-1/commands"] {
            #expect(plant.allowed(topic) == nil, "\(topic)")
        }
    }

    @Test("A registry subscribes to its devices' and its own events and state and its devices' monitoring, nothing else")
    func registrySubscribes() {
        let plant = policy.rules("plant-1")
        for filter in ["$devices/oven-1/events", "$devices/oven-2/state", "$devices/oven-1/events/+/temperature",
                       "$registries/plant-1/events", "$registries/plant-1/state", "$monitoring/meter-1/json"] {
            #expect(plant.subscribe(to: filter) == [FilterRewrite(filter: filter)], "\(filter)")
        }
        for filter in ["$devices/oven-1/commands", "$devices/oven-1/config", "$registries/plant-1/commands",
                       "$devices/pump-1/events", "$registries/other/events", "$monitoring/pump-1/json", "$devices/+", "$registries/+"] {
            #expect(plant.subscribe(to: filter).isEmpty, "\(filter)")
        }
    }

    @Test("Across registries everything is denied; a disabled registry's devices get no rules")
    func acrossRegistries() {
        let pump = policy.rules("pump-1")
        #expect(pump.allowed("$registries/plant-1/events") == nil)
        #expect(pump.filters("$devices/#") == ["$devices/pump-1/commands/#", "$devices/pump-1/config/#"])
        #expect(pump.filters("$monitoring/+/json") == ["$monitoring/pump-1/json"])
        let other = policy.rules("other")
        #expect(other.allowed("$devices/oven-1/commands") == nil)
        #expect(other.filters("$devices/+/events") == ["$devices/pump-1/events"])
        guard case .refused(.notAuthorized, _) = policy.attachLocal(ClientIdentity(clientID: "legacy-1", username: "legacy-1", remoteAddress: "in-process")) else {
            Issue.record("a disabled registry's device was attached")
            return
        }
    }

    @Test("Wildcards narrow to what the client may read, one canonical filter per family")
    func narrowing() {
        let plant = policy.rules("plant-1")
        #expect(plant.filters("$devices/#") == ["$devices/meter-1/events/#", "$devices/meter-1/state/#", "$devices/oven-1/events/#",
                                                 "$devices/oven-1/state/#", "$devices/oven-2/events/#", "$devices/oven-2/state/#"])
        #expect(plant.filters("$devices/+/events") == ["$devices/meter-1/events", "$devices/oven-1/events", "$devices/oven-2/events"])
        #expect(plant.filters("$devices/+/+/alarm") == ["$devices/meter-1/events/alarm", "$devices/meter-1/state/alarm",
                                                         "$devices/oven-1/events/alarm", "$devices/oven-1/state/alarm",
                                                         "$devices/oven-2/events/alarm", "$devices/oven-2/state/alarm"])
        #expect(plant.filters("$devices/oven-1/#") == ["$devices/oven-1/events/#", "$devices/oven-1/state/#"])
        #expect(plant.filters("$registries/#") == ["$registries/plant-1/events/#", "$registries/plant-1/state/#"])
        #expect(plant.filters("$monitoring/#") == ["$monitoring/meter-1/json/#", "$monitoring/oven-1/json/#", "$monitoring/oven-2/json/#"])
        let oven = policy.rules("oven-1")
        #expect(oven.filters("$registries/#") == ["$registries/plant-1/commands/#", "$registries/plant-1/config/#"])
        #expect(oven.filters("$registries/+/+") == ["$registries/plant-1/commands", "$registries/plant-1/config"])
        #expect(oven.filters("$devices/#") == ["$devices/oven-1/commands/#", "$devices/oven-1/config/#"])
        for filter in ["$devices/+", "$registries/+", "$monitoring/+", "$devices", "$devices/oven-1"] {
            #expect(oven.filters(filter).isEmpty && plant.filters(filter).isEmpty, "\(filter)")
        }
        // Filters outside `$devices/` and `$registries/` match aliases only: through its own alias for
        // oven-2, nothing for meter-1, which has none (the other devices' aliases lead to topics it may not read).
        #expect(policy.rules("oven-2").filters("#") == ["$devices/oven-2/commands/#", "$devices/oven-2/config/#"])
        #expect(policy.rules("meter-1").filters("#").isEmpty)
    }

    @Test("UNSUBSCRIBE finds what SUBSCRIBE stored: the expansion is the same every time")
    func stableExpansion() {
        let plant = policy.rules("plant-1")
        #expect(plant.subscribe(to: "$devices/#") == plant.subscribe(to: "$devices/#"))
        #expect(policy.rules("plant-1").subscribe(to: "plant/#") == plant.subscribe(to: "plant/#"))
    }

    @Test("Subtopics up to 1024 characters")
    func subtopicLength() {
        let oven = policy.rules("oven-1")
        let longest = String(repeating: "a", count: 1024)
        #expect(oven.allowed("$devices/oven-1/events/" + longest) != nil)
        #expect(oven.allowed("$devices/oven-1/events/" + longest + "b") == nil)
        #expect(oven.allowed("$devices/oven-1/events/" + String(repeating: "é", count: 1000)) != nil)
    }
}
