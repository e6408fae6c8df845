import Broker
import Registry
import Testing

@Suite("Registry: the per-entity message rate and the permanent topics")
struct RateAndPermanenceTests {
    @Test("A burst of one second's worth passes; beyond it each message tells the sender to wait; sessions of one entity share the bucket")
    func rateLimit() throws {
        let policy = RegistryPolicy(try RegistryFixture(messagesPerSecond: 2).directory)
        let first = policy.rules("oven-1"), second = policy.rules("oven-1"), plant = policy.rules("plant-1")
        let start = ContinuousClock.now
        #expect(first.pauseAfterPublish(now: start) == .zero)
        #expect(second.pauseAfterPublish(now: start) == .zero)
        #expect(first.pauseAfterPublish(now: start) == .milliseconds(500))
        #expect(plant.pauseAfterPublish(now: start) == .zero)
        // After the pause the next message passes and asks for the next pause at the rate.
        #expect(second.pauseAfterPublish(now: start.advanced(by: .milliseconds(500))) == .milliseconds(500))
        // Idle for long: the bucket fills up to one second's worth, no more.
        let later = start.advanced(by: .seconds(10))
        #expect(first.pauseAfterPublish(now: later) == .zero)
        #expect(first.pauseAfterPublish(now: later) == .zero)
        #expect(first.pauseAfterPublish(now: later) == .milliseconds(500))
        let unlimited = RegistryPolicy(try RegistryFixture().directory).rules("oven-1")
        for _ in 1...100 { #expect(unlimited.pauseAfterPublish(now: start) == .zero) }
    }

    @Test("state and config of devices and registries, with subtopics, are permanent; nothing else")
    func permanent() throws {
        let policy = RegistryPolicy(try RegistryFixture().directory)
        for topic in ["$devices/oven-1/state", "$devices/oven-1/config", "$devices/oven-1/state/zone/1",
                      "$registries/plant-1/state", "$registries/plant-1/config/x"] {
            #expect(policy.isPermanent(topic), "\(topic)")
        }
        for topic in ["$devices/oven-1/events", "$devices/oven-1/commands", "$devices/oven-1/stateful", "$devices//state",
                      "$devices/oven-1", "$monitoring/oven-1/json", "plant/oven1/state", "$devices/state", "x/$devices/a/state"] {
            #expect(!policy.isPermanent(topic), "\(topic)")
        }
    }
}
