import Broker
import Foundation
import GatewayCore
import Mapping
import Modbus
import MQTT
import POSIX
import Serial
import Synchronization
import Testing
import TestSupport

/// The gateway's polling in process, without the `modbridge` binary: a `BusWorker` (the bus
/// thread and its `BusPoller`) on the simulator's pty, the embedded broker, and an in-process
/// client of that broker reading what the device publishes. The device reaches the broker
/// through a `BrokerDeviceChannel` (DeviceChannelTests run the same with a recording channel).
@Suite("Bus poller in process: simulator, embedded broker, local client")
struct InProcessPollerTests {
    /// What an in-process client received, collected off its stream so that a test can wait
    /// (bounded) for a message without holding the stream's iterator.
    final class Received: Sendable {
        private final class Messages: Sendable {
            let list = Mutex<[Publish]>([])
        }
        private let messages = Messages()
        private let pump: Task<Void, Never>

        init(_ client: LocalClient) {
            let messages = messages
            pump = Task { for await message in client.messages { messages.list.withLock { $0.append(message) } } }
        }

        deinit { pump.cancel() }

        /// The first message on `topic` whose JSON object satisfies `condition`, waiting up to
        /// 10 s (a liveness bound: it normally comes within a few poll cycles of 100 ms).
        func first(on topic: String, where condition: ([String: Any]) -> Bool = { _ in true }) async -> [String: Any]? {
            for _ in 0..<1000 {
                for message in messages.list.withLock({ $0 }) where message.topic == topic {
                    if let object = GatewayFixture.json(message.payload), condition(object) { return object }
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return nil
        }

        /// Every JSON object received on `topic` so far, in order.
        func all(on topic: String) -> [[String: Any]] {
            messages.list.withLock { $0 }.filter { $0.topic == topic }.compactMap { GatewayFixture.json($0.payload) }
        }
    }

    @Test("A device added to a BusWorker publishes its registers as events and state, takes a command, and says when it is no longer served")
    func telemetryCommandAndStop() async throws {
        // The fixture's simulator, profile and config file; its gateway process is not started.
        let gateway = try GatewayFixture(start: false)
        let controller = try gateway.controller()
        GatewayFixture.setKnownValues(on: controller)
        let loaded = try ConfigurationLoader.load(configFile: gateway.configFile)
        let device = try #require(loaded.devices.first)

        let broker = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: 0))
        defer { broker.stop() }
        let consumer = try await broker.connectLocal(ClientIdentity(clientID: "test-consumer", remoteAddress: "in-process"))
        _ = try await consumer.subscribe([Subscription(filter: "$devices/oven-1/#", qos: .atLeastOnce)])
        let received = Received(consumer)

        var serial = SerialSettings()
        serial.rs485.mode = .off  // a pty has no RS-485 driver
        let line = BusConfiguration(target: .rtu(path: gateway.simulator.address, settings: serial), responseTimeout: .milliseconds(500))
        let worker = try BusWorker(settings: device.bus, configuration: line, logger: .discarding)
        worker.add(device, channel: try await BrokerDeviceChannel.connect(to: broker, deviceID: device.settings.id, registryID: device.registry, logger: .discarding))

        // Telemetry: the simulator's registers, decoded by the profile.
        let state = await received.first(on: "$devices/oven-1/state") {
            ($0["online"] as? Bool) == true && ($0["values"] as? [String: Any])?.count == 5
        }
        let values = try #require(state?["values"] as? [String: Any])
        #expect(values["set_point"] as? Double == 72.5)
        #expect(values["mode"] as? String == "heat")
        #expect(values["temperature"] as? Double == 65.3)
        #expect(values["flow"] as? Double == 123.456)
        #expect(values["alarm"] as? Bool == true)
        controller.setRegisters(.inputRegisters, address: 0, [0xFF38])
        #expect(await received.first(on: "$devices/oven-1/events") { $0["temperature"] as? Double == -20 } != nil)

        // A command from the broker's side reaches the bus thread, the register, and is acknowledged.
        try await consumer.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": 80.5, "id": "c1"}"#.utf8),
                                   qos: .atLeastOnce)
        let ack = await received.first(on: "$devices/oven-1/events/ack") { $0["id"] as? String == "c1" }
        #expect(ack?["ok"] as? Bool == true)
        #expect(controller.registers(.holdingRegisters, address: 0, count: 1) == [805])

        // Stopping the worker leaves a last state that says why the device is no longer served.
        await worker.stop(reason: "test over")
        let last = await received.first(on: "$devices/oven-1/state") { $0["error"] as? String == "test over" }
        #expect(last?["online"] as? Bool == false)
        consumer.disconnect()
    }
}
