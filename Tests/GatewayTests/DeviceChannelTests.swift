import Broker
import Foundation
import GatewayCore
import Mapping
import Modbus
import MQTT
import POSIX
import Serial
import Testing
import TestSupport

/// The gateway's runtime in process behind a `DeviceChannel`: a `BusWorker` on the simulator's
/// pty, its device's messages recorded by a `RecordingDeviceChannel` (no broker), commands and
/// config injected as a broker would deliver them.
@Suite("Device runtime in process behind a recording channel")
struct DeviceChannelTests {
    /// The fixture's simulator and config (its gateway process is not started), the device
    /// `oven-1` of registry `plant`, and a worker on the simulator's line.
    final class Rig {
        let gateway: GatewayFixture
        let controller: SimulatedController
        let device: ResolvedDevice
        let channel = RecordingDeviceChannel()
        /// What the worker logged (line and device events).
        let log = CapturedLog()
        let worker: BusWorker
        /// The devices of the other `units`, each with a recording channel of its own.
        let neighbours: [(device: ResolvedDevice, channel: RecordingDeviceChannel)]

        /// With `profile`, the device uses that profile instead of the fixture's; `units` beyond
        /// the first are neighbours on the same line; `controller` makes each simulated controller.
        init(profile: String? = nil, responseTimeout: Duration = .milliseconds(500),
             commandBacklogLimit: Int = BusWorker.defaultCommandBacklogLimit, units: [UInt8] = [1],
             controller: @escaping (UInt8) -> SimulatedController = { SimulatedController(unit: $0, temperatureModel: false) }) throws {
            gateway = try GatewayFixture(units: units, start: false, controller: controller)
            self.controller = try gateway.controller(units[0])
            if let profile { try profile.write(toFile: gateway.folder.path + "/test-oven.json", atomically: true, encoding: .utf8) }
            let loaded = try ConfigurationLoader.load(configFile: gateway.configFile)
            device = try #require(loaded.devices.first)
            neighbours = loaded.devices.dropFirst().map { ($0, RecordingDeviceChannel()) }
            var serial = SerialSettings()
            serial.rs485.mode = .off  // a pty has no RS-485 driver
            let line = BusConfiguration(target: .rtu(path: gateway.simulator.address, settings: serial), responseTimeout: responseTimeout)
            worker = try BusWorker(settings: device.bus, configuration: line, commandBacklogLimit: commandBacklogLimit, logger: log.logger())
        }

        func start() {
            worker.add(device, channel: channel)
            for (device, channel) in neighbours { worker.add(device, channel: channel) }
        }

        /// A device with nothing to read: the only requests on its line are the commands' writes.
        static let writeOnlyProfile = """
            { "model": "test-oven", "vendor": "modbridge tests", "points": [
                { "name": "set_point", "table": "holding", "address": 0, "type": "uint16", "access": "write" } ] }
            """

        /// Each point's first value in the `events` documents published so far (without `ts`).
        func firstReported() -> [String: Any] {
            var first: [String: Any] = [:]
            for record in channel.published where record.kind == .events {
                for (name, value) in GatewayFixture.json(record.payload) ?? [:] where name != "ts" && first[name] == nil { first[name] = value }
            }
            return first
        }

        /// The first state that is online with every readable point read.
        func firstFullState() async -> [String: Any]? {
            await channel.first(.state) { $0["online"] as? Bool == true && ($0["values"] as? [String: Any])?.count == 5 }
        }
    }

    @Test("Telemetry: the events document holds the simulator's registers decoded by the profile, and state too")
    func telemetry() async throws {
        let rig = try Rig()
        GatewayFixture.setKnownValues(on: rig.controller)
        rig.start()

        // Every readable point is reported at its first read (in the first cycle, unless a read
        // of it failed): each point's first reported value is its register decoded.
        #expect(await eventually { Set(rig.firstReported().keys) == ["set_point", "mode", "temperature", "flow", "alarm"] })
        let events = rig.firstReported()
        #expect(events["set_point"] as? Double == 72.5)
        #expect(events["mode"] as? String == "heat")
        #expect(events["temperature"] as? Double == 65.3)
        #expect(events["flow"] as? Double == 123.456)
        #expect(events["alarm"] as? Bool == true)
        #expect(rig.channel.published.filter { $0.kind == .events }.allSatisfy { GatewayFixture.json($0.payload)?["ts"] is String })
        let state = try #require(await rig.firstFullState())
        #expect(state["bus"] as? String == "line")
        #expect((state["values"] as? [String: Any])?["temperature"] as? Double == 65.3)

        // A change on the controller is reported alone (onChange) in a later document.
        rig.controller.setRegisters(.inputRegisters, address: 0, [0xFF38])
        let changed = await rig.channel.first(.events) { $0["temperature"] as? Double == -20 }
        #expect(changed.map { Set($0.keys) } == ["temperature", "ts"])
        await rig.worker.stop(reason: "test over")
    }

    @Test("A command for a point and a registry batch are written to the registers and acknowledged")
    func commandWrittenAndAcked() async throws {
        let rig = try Rig()
        rig.start()
        #expect(await rig.firstFullState() != nil)

        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 80.5, "id": "c1"}"#)
        let ack = await rig.channel.first(.ack) { $0["id"] as? String == "c1" }
        #expect(ack?["ok"] as? Bool == true, "\(ack ?? [:])")
        #expect((ack?["written"] as? [String: Any])?["set_point"] as? Double == 80.5)
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [805])

        rig.channel.inject(.registryBatch(registry: "plant"), #"{"mode": "cool", "id": "c2"}"#)
        let batch = await rig.channel.first(.ack) { $0["id"] as? String == "c2" }
        #expect(batch?["ok"] as? Bool == true, "\(batch ?? [:])")
        #expect(rig.controller.registers(.holdingRegisters, address: 1, count: 1) == [2])
        // The written point is read again at once: events show the new value.
        #expect(await rig.channel.first(.events) { $0["mode"] as? String == "cool" } != nil)
        await rig.worker.stop(reason: "test over")
    }

    @Test("A bad command is refused with the reason, and nothing is written")
    func badCommandRefused() async throws {
        let rig = try Rig()
        rig.controller.setRegisters(.holdingRegisters, address: 0, [725, 1])
        rig.start()
        #expect(await rig.firstFullState() != nil)

        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 500, "id": "too-hot"}"#)
        rig.channel.inject(.deviceBatch(device: "oven-1"), #"{"mode": "heat", "colour": "red", "id": "unknown"}"#)
        rig.channel.inject(.devicePoint(device: "oven-1", point: "mode"), #"{"value": "heat",}"#)
        let tooHot = await rig.channel.first(.ack) { $0["id"] as? String == "too-hot" }
        #expect(tooHot?["ok"] as? Bool == false)
        #expect((tooHot?["error"] as? String)?.isEmpty == false)
        let unknown = await rig.channel.first(.ack) { $0["id"] as? String == "unknown" }
        #expect(unknown?["ok"] as? Bool == false)
        #expect((unknown?["error"] as? String)?.contains("colour") == true)
        // The third one's id cannot be read (not JSON), so its ack has a null id: the third ack.
        let acks = await eventually { rig.channel.published.filter { $0.kind == .ack }.count == 3 }
        #expect(acks)
        let invalid = rig.channel.published.filter { $0.kind == .ack }.last.flatMap { GatewayFixture.json($0.payload) }
        #expect(invalid?["ok"] as? Bool == false)
        #expect((invalid?["error"] as? String)?.contains("not valid JSON") == true)

        #expect(rig.gateway.writes.isEmpty)
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 2) == [725, 1])
        await rig.worker.stop(reason: "test over")
    }

    @Test("State goes offline with the error when the unit stops answering, and online again when it answers")
    func offlineAndOnline() async throws {
        let rig = try Rig()
        rig.start()
        #expect(await rig.firstFullState() != nil)

        // Three requests unanswered make it offline; the simulator answers again by itself after
        // them, so the return does not wait on this test's task being scheduled in time.
        // Records from here on come after the fault (a state from before may say offline too, if
        // a first poll timed out on a loaded machine).
        let start = rig.channel.published.count
        rig.gateway.simulator.inject(.noAnswer, unit: 1, times: 3)  // DeviceAgent.failuresBeforeOffline
        let offline = await rig.channel.find(.state, after: start) { $0["online"] as? Bool == false }
        #expect((offline?.object["error"] as? String)?.contains("timeout") == true)
        let online = await rig.channel.first(.state, after: (offline?.position ?? 0) + 1) { $0["online"] as? Bool == true }
        #expect(online != nil)
        #expect(online?["error"] is NSNull)

        await rig.worker.stop(reason: "test over")
        let last = await rig.channel.first(.state) { $0["error"] as? String == "test over" }
        #expect(last?["online"] as? Bool == false)
        #expect(rig.channel.isClosed)
    }

    @Test("The worker logs through the logger it is given: line_opened, device_found, then device_offline with its fields and device_online")
    func deviceEventsAreLogged() async throws {
        let rig = try Rig()
        rig.start()
        #expect(await rig.firstFullState() != nil)
        rig.gateway.simulator.inject(.noAnswer, unit: 1, times: 3)  // DeviceAgent.failuresBeforeOffline
        #expect(await eventually { !rig.log.events("device_online").isEmpty })
        await rig.worker.stop(reason: "test over")

        let device = rig.device.settings.id
        let events = rig.log.all.map(\.event).filter { ["line_opened", "device_found", "device_offline", "device_online"].contains($0) }
        // A loaded machine may add outages of its own after these; the first four come in this order.
        #expect(Array(events.prefix(4)) == ["line_opened", "device_found", "device_offline", "device_online"])
        let offline = try #require(rig.log.events("device_offline").first)
        #expect(offline.level == .warning)
        #expect(offline["device"] == device && offline["bus"] == rig.device.bus.id && offline["unit"] == "1")
        // Usually a timeout; on a loaded machine a late answer can fail otherwise: the reason is there.
        #expect(offline["error"]?.isEmpty == false, "\(offline.line)")
        #expect(offline.line.hasPrefix("level=warning event=device_offline device=\(device) bus=\(rig.device.bus.id) unit=1 error="))
        let online = try #require(rig.log.events("device_online").first)
        #expect(online.level == .info && online["device"] == device)
    }

    @Test("Desired config sent before the device starts is applied, and applied again when the controller comes back with defaults")
    func desiredConfigReapplied() async throws {
        let rig = try Rig()
        // Delivered before the runtime receives (as a retained config replayed at subscription).
        rig.channel.inject(.config(device: "oven-1"), #"{"set_point": 80, "mode": "heat"}"#)
        rig.start()
        let applied = await rig.channel.first(.ack) { $0["config"] as? Bool == true }
        #expect(applied?["ok"] as? Bool == true)
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 2) == [800, 1])

        // The controller restarts with its defaults (zeros) and does not answer while it does;
        // the simulator answers again by itself after three requests (enough to be offline).
        rig.controller.restartWithDefaults()
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 2) == [0, 0])
        // Any config ack from here on comes from a write made after the restart.
        let start = rig.channel.published.count
        rig.gateway.simulator.inject(.noAnswer, unit: 1, times: 3)  // DeviceAgent.failuresBeforeOffline
        let offline = await rig.channel.find(.state, after: start) { $0["online"] as? Bool == false }
        #expect(offline != nil)
        let reapplied = await rig.channel.first(.ack, after: (offline?.position ?? 0) + 1) { $0["config"] as? Bool == true }
        #expect(reapplied?["ok"] as? Bool == true)
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 2) == [800, 1])
        await rig.worker.stop(reason: "test over")
    }

    @Test("While the bus is busy, commands beyond the device's backlog limit are dropped; the rest are written in order")
    func commandBacklogBounded() async throws {
        let rig = try Rig(profile: Rig.writeOnlyProfile, responseTimeout: .seconds(30), commandBacklogLimit: 3)
        rig.start()
        // The first write is held by the controller, so the bus thread stays in it.
        rig.gateway.simulator.inject(.heldAnswer, unit: 1)
        #expect(rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 100, "id": 0}"#))
        #expect(await eventually { rig.gateway.simulator.requests.count == 1 })

        let accepted = (1...5).map { rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": \#(100 + $0), "id": \#($0)}"#) }
        #expect(accepted == [true, true, true, false, false])
        rig.gateway.simulator.releaseHeldAnswers()
        #expect(await rig.channel.first(.ack) { $0["id"] as? Int == 3 } != nil)
        // Stopping comes after every command that was taken: the acks are final.
        await rig.worker.stop(reason: "test over")
        let acks = rig.channel.published.filter { $0.kind == .ack }.compactMap { GatewayFixture.json($0.payload) }
        #expect(acks.compactMap { $0["id"] as? Int } == [0, 1, 2, 3])
        #expect(acks.allSatisfy { $0["ok"] as? Bool == true }, "\(acks)")
        #expect(rig.gateway.writes.count == 4)
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [103])
    }

    @Test("Through the embedded broker, a burst of commands reaches the device in the order it was sent")
    func brokerChannelKeepsOrder() async throws {
        let rig = try Rig()
        let broker = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: 0))
        defer { broker.stop() }
        let consumer = try await broker.connectLocal(ClientIdentity(clientID: "test-consumer", remoteAddress: "in-process"))
        _ = try await consumer.subscribe([Subscription(filter: "$devices/oven-1/events/ack", qos: .atLeastOnce)])
        let received = InProcessPollerTests.Received(consumer)
        rig.worker.add(rig.device, channel: try await BrokerDeviceChannel.connect(to: broker, deviceID: "oven-1", registryID: "plant", logger: .discarding))

        let values = (0..<20).map { 500 + $0 }
        for (index, value) in values.enumerated() {
            try await consumer.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": \#(Double(value) / 10), "id": \#(index)}"#.utf8),
                                       qos: .atLeastOnce)
        }
        #expect(await received.first(on: "$devices/oven-1/events/ack") { $0["id"] as? Int == values.count - 1 } != nil)
        let ids = received.all(on: "$devices/oven-1/events/ack").compactMap { $0["id"] as? Int }
        #expect(ids == Array(0..<values.count))
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [UInt16(values[values.count - 1])])
        await rig.worker.stop(reason: "test over")
        consumer.disconnect()
    }

    @Test("Through the embedded broker, commands a full backlog drops are counted as dropped by the broker")
    func brokerCountsDroppedCommands() async throws {
        let rig = try Rig(profile: Rig.writeOnlyProfile, responseTimeout: .seconds(30), commandBacklogLimit: 1)
        let broker = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: 0))
        defer { broker.stop() }
        let consumer = try await broker.connectLocal(ClientIdentity(clientID: "test-consumer", remoteAddress: "in-process"))
        _ = try await consumer.subscribe([Subscription(filter: "$devices/oven-1/events/ack", qos: .atLeastOnce)])
        let received = InProcessPollerTests.Received(consumer)
        rig.worker.add(rig.device, channel: try await BrokerDeviceChannel.connect(to: broker, deviceID: "oven-1", registryID: "plant", logger: .discarding))
        func command(_ id: Int) async throws {
            // Returns once the broker routed it, i.e. handed it to the device's channel.
            try await consumer.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": \#(200 + id), "id": \#(id)}"#.utf8),
                                       qos: .atLeastOnce)
        }

        // The first write is held by the controller, so the bus thread stays in it.
        rig.gateway.simulator.inject(.heldAnswer, unit: 1)
        try await command(0)
        #expect(await eventually { rig.gateway.simulator.requests.count == 1 })
        #expect(await eventually { broker.statistics.messagesDropped == 0 && broker.statistics.messagesReceived >= 1 })
        for id in 1...3 { try await command(id) }
        #expect(await eventually { broker.statistics.messagesDropped == 2 })

        rig.gateway.simulator.releaseHeldAnswers()
        #expect(await received.first(on: "$devices/oven-1/events/ack") { $0["id"] as? Int == 1 } != nil)
        await rig.worker.stop(reason: "test over")
        #expect(received.all(on: "$devices/oven-1/events/ack").compactMap { $0["id"] as? Int } == [0, 1])
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [201])
        consumer.disconnect()
    }
}
