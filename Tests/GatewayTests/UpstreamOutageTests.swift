import Foundation
import Glibc
import Modbus
import MQTT
import MQTTClient
import Synchronization
import Testing
import TestSupport

/// Mosquitto stopped for a while and started again while the gateway keeps polling (mode both:
/// local consumers keep their values meanwhile), with and without a `kill -9` of modbridge
/// during the outage: every value the gateway published locally reaches the cloud consumer,
/// the backlog in order, duplicates only as QoS 1 allows (counted and printed).
@Suite(.serialized) struct UpstreamOutageTests {
    /// Moves the counter register every 40 ms (the devices poll every 100 ms) while `running`.
    private final class CounterDriver: Sendable {
        private let value = Atomic<Int>(1)
        private let running = Atomic<Bool>(true)
        private let paused = Atomic<Bool>(false)

        var current: Int { value.load(ordering: .relaxed) }

        func start(_ simulator: ModbusSimulator) -> Task<Void, Never> {
            Task {
                while running.load(ordering: .relaxed) {
                    if !paused.load(ordering: .relaxed) {
                        UpstreamGatewayFixture.setCounter(UInt16(value.add(1, ordering: .relaxed).newValue), on: simulator)
                    }
                    try? await Task.sleep(for: .milliseconds(40))
                }
            }
        }

        func pause(_ pause: Bool) { paused.store(pause, ordering: .relaxed) }
        func stop() { running.store(false, ordering: .relaxed) }
    }

    /// The counter values of one device's `events`, in the order received.
    private static func counters(_ inbox: Inbox, topic: String) -> [Int] {
        inbox.messages.filter { $0.topic == topic }.compactMap { GatewayFixture.json($0.payload)?["counter"] as? Int }
    }

    @Test(arguments: [false, true])
    func everyValueArrivesAfterAnOutage(killingTheGateway: Bool) async throws {
        let fixture = try UpstreamGatewayFixture(login: .plainPasswords, mode: "both", persistence: true)
        fixture.setCounter(1)
        // The cloud consumer's session outlives Mosquitto's restart (persistence on a clean stop).
        var (consumer, _) = try await fixture.consumer(["plant/+/events"], id: "cloud", cleanSession: false)
        await consumer.disconnect()
        try fixture.startGateway()
        var (local, localInbox) = try await fixture.localConsumer(["$devices/+/events"])
        var localSeen: [String: [Int]] = [:]
        let driver = CounterDriver()
        let driving = driver.start(fixture.simulator)

        try await Task.sleep(for: .seconds(1))
        fixture.mosquitto.stop()
        let atOutage = driver.current
        try await Task.sleep(for: .seconds(1.5))
        if killingTheGateway {
            // Freeze the counter so that what was polled is on disk, then kill -9 mid-outage.
            driver.pause(true)
            try await Task.sleep(for: .milliseconds(500))
            for device in ["oven-1", "oven-2"] { localSeen[device, default: []] += Self.counters(localInbox, topic: "$devices/\(device)/events") }
            await local.close()
            fixture.killGateway()
            try fixture.startGateway()
            (local, localInbox) = try await fixture.localConsumer(["$devices/+/events"], id: "local-2")
            driver.pause(false)
            try await Task.sleep(for: .seconds(1))
        }
        let atReturn = driver.current
        try fixture.mosquitto.start()
        let inbox: Inbox
        (consumer, inbox) = try await fixture.consumer(["plant/+/events"], id: "cloud", cleanSession: false)
        try await Task.sleep(for: .seconds(1))
        driver.stop()
        await driving.value
        try await Task.sleep(for: .milliseconds(500))
        for device in ["oven-1", "oven-2"] { localSeen[device, default: []] += Self.counters(localInbox, topic: "$devices/\(device)/events") }

        for device in ["oven-1", "oven-2"] {
            let produced = Set(localSeen[device] ?? [])
            #expect(produced.count > 20, "\(device) produced only \(produced.count) values")
            // Everything produced arrives (bounded wait: the backlog drains at 1,000 messages/s).
            var received: [Int] = []
            for _ in 0..<2000 {
                received = Self.counters(inbox, topic: "plant/\(device)/events")
                if produced.isSubset(of: Set(received)) { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let missing = produced.subtracting(received).sorted()
            #expect(missing.isEmpty, "\(device): \(missing.count) values never arrived upstream: \(missing.prefix(20)); gateway log: \(fixture.log)")
            // The backlog (values from the outage) arrives in the order it was produced.
            var firstSeen: [Int] = []
            var seen = Set<Int>()
            for value in received where seen.insert(value).inserted { firstSeen.append(value) }
            let backlog = firstSeen.filter { $0 > atOutage && $0 < atReturn }
            #expect(backlog == backlog.sorted(), "\(device): backlog out of order: \(backlog)")
            let duplicates = received.count - Set(received).count
            print("upstream outage (kill -9: \(killingTheGateway)) \(device): produced \(produced.count), received \(received.count), duplicates \(duplicates), backlog \(backlog.count)")
        }
        await consumer.disconnect()
        await local.disconnect()
        #expect(fixture.stopGateway() == 0)
        // The stop line counts what went upstream and what is left.
        #expect(fixture.log.contains("upstream_queued=0"), "\(fixture.logLines("gateway_stopped"))")
    }
}
