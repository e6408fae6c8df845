import Broker
import Registry
import Testing

@Suite("Registry: aliases and $me, both ways, with wildcards")
struct AliasTests {
    let policy: RegistryPolicy

    init() throws { policy = RegistryPolicy(try RegistryFixture().directory) }

    @Test("Publishing through an alias resolves to the device topic, with the same checks")
    func aliasPublish() {
        let oven = policy.rules("oven-1")
        #expect(oven.allowed("plant/oven1/events") == "$devices/oven-1/events")
        #expect(oven.allowed("ovens/first/state/zone") == "$devices/oven-1/state/zone")
        #expect(oven.allowed("plant/oven1/commands") == nil)
        #expect(oven.allowed("plant/oven2/events") == nil)
        #expect(oven.allowed("plant/unknown/events") == nil)
        #expect(oven.allowed("plant/oven1") == nil)
        #expect(policy.rules("plant-1").allowed("plant/oven2/commands/sp") == "$devices/oven-2/commands/sp")
        // Aliases are the client's own registry's: the same text names pump-1 in `other`.
        #expect(policy.rules("pump-1").allowed("plant/oven1/events") == "$devices/pump-1/events")
        #expect(policy.rules("other").allowed("plant/oven2/commands") == nil)
    }

    @Test("Subscribing through an alias (wildcards too) stores canonical filters presented under the alias")
    func aliasSubscribe() {
        let plant = policy.rules("plant-1")
        func via(_ alias: String, _ device: String) -> PresentedPrefix { PresentedPrefix(canonical: "$devices/\(device)/", presented: alias) }
        #expect(plant.subscribe(to: "plant/#") == [
            FilterRewrite(filter: "$devices/oven-1/events/#", presentedPrefix: via("plant/oven1/", "oven-1")),
            FilterRewrite(filter: "$devices/oven-1/state/#", presentedPrefix: via("plant/oven1/", "oven-1")),
            FilterRewrite(filter: "$devices/oven-2/events/#", presentedPrefix: via("plant/oven2/", "oven-2")),
            FilterRewrite(filter: "$devices/oven-2/state/#", presentedPrefix: via("plant/oven2/", "oven-2")),
        ])
        #expect(plant.subscribe(to: "+/+/events") == [
            FilterRewrite(filter: "$devices/oven-1/events", presentedPrefix: via("ovens/first/", "oven-1")),
            FilterRewrite(filter: "$devices/oven-1/events", presentedPrefix: via("plant/oven1/", "oven-1")),
            FilterRewrite(filter: "$devices/oven-2/events", presentedPrefix: via("plant/oven2/", "oven-2")),
        ])
        #expect(plant.subscribe(to: "plant/oven1/commands").isEmpty)
        #expect(plant.subscribe(to: "plant/+").isEmpty)
        let oven = policy.rules("oven-1")
        #expect(oven.subscribe(to: "plant/oven1/commands/#") == [FilterRewrite(filter: "$devices/oven-1/commands/#", presentedPrefix: via("plant/oven1/", "oven-1"))])
        #expect(oven.subscribe(to: "plant/oven2/commands").isEmpty)
        #expect(oven.filters("#") == ["$devices/oven-1/commands/#", "$devices/oven-1/config/#",
                                     "$devices/oven-1/commands/#", "$devices/oven-1/config/#"])
        #expect(policy.rules("pump-1").subscribe(to: "plant/oven1/config") == [FilterRewrite(filter: "$devices/pump-1/config", presentedPrefix: via("plant/oven1/", "pump-1"))])
        // The broker renames a delivered topic with the presented prefix.
        #expect(via("plant/oven1/", "oven-1").present("$devices/oven-1/events/zone") == "plant/oven1/events/zone")
    }

    @Test("$me stands for the client's own device, registry and monitoring topics, both ways")
    func me() {
        let oven = policy.rules("oven-1")
        #expect(oven.allowed("$me/device/events/zone") == "$devices/oven-1/events/zone")
        #expect(oven.allowed("$me/device/state") == "$devices/oven-1/state")
        #expect(oven.allowed("$me/registry/events") == "$registries/plant-1/events")
        #expect(oven.allowed("$me/device/commands") == nil)
        #expect(oven.allowed("$me/monitoring/json") == nil)
        #expect(oven.allowed("$me/other/events") == nil)
        let device = PresentedPrefix(canonical: "$devices/oven-1/", presented: "$me/device/")
        let registry = PresentedPrefix(canonical: "$registries/plant-1/", presented: "$me/registry/")
        let monitoring = PresentedPrefix(canonical: "$monitoring/oven-1/", presented: "$me/monitoring/")
        #expect(oven.subscribe(to: "$me/device/commands/#") == [FilterRewrite(filter: "$devices/oven-1/commands/#", presentedPrefix: device)])
        #expect(oven.subscribe(to: "$me/monitoring/json") == [FilterRewrite(filter: "$monitoring/oven-1/json", presentedPrefix: monitoring)])
        #expect(oven.subscribe(to: "$me/+/config") == [FilterRewrite(filter: "$devices/oven-1/config", presentedPrefix: device),
                                                       FilterRewrite(filter: "$registries/plant-1/config", presentedPrefix: registry)])
        #expect(oven.subscribe(to: "$me/#") == [FilterRewrite(filter: "$devices/oven-1/commands/#", presentedPrefix: device),
                                                FilterRewrite(filter: "$devices/oven-1/config/#", presentedPrefix: device),
                                                FilterRewrite(filter: "$monitoring/oven-1/json/#", presentedPrefix: monitoring),
                                                FilterRewrite(filter: "$registries/plant-1/commands/#", presentedPrefix: registry),
                                                FilterRewrite(filter: "$registries/plant-1/config/#", presentedPrefix: registry)])
        #expect(oven.subscribe(to: "$me/device/events").isEmpty)
        let plant = policy.rules("plant-1")
        #expect(plant.allowed("$me/registry/commands") == "$registries/plant-1/commands")
        #expect(plant.allowed("$me/device/commands") == nil)
        #expect(plant.subscribe(to: "$me/registry/events") == [FilterRewrite(filter: "$registries/plant-1/events",
                                                                              presentedPrefix: PresentedPrefix(canonical: "$registries/plant-1/", presented: "$me/registry/"))])
    }
}
