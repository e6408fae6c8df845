import Foundation
import GatewayCore
import Glibc
import Mapping
import Modbus
import MQTT
import MQTTClient
import POSIX
import Serial
import Testing
import TestSupport

/// The per-bus frame trace at run time: `"trace": true` in the config, and the `$trace` command
/// that switches it for a while; lines are `bus_trace` events in the gateway's log.
@Suite("Bus frame trace at run time")
struct BusTraceTests {
    /// A `BusWorker` polling the fixture's device over its simulator, logging into `log`.
    private func worker(_ gateway: GatewayFixture, log: CapturedLog, trace: Bool = false,
                        channel: RecordingDeviceChannel) throws -> BusWorker {
        let loaded = try ConfigurationLoader.load(configFile: gateway.configFile)
        var device = try #require(loaded.devices.first)
        device.bus.trace = trace
        var serial = SerialSettings()
        serial.rs485.mode = .off
        let line = BusConfiguration(target: .rtu(path: gateway.simulator.address, settings: serial), responseTimeout: .milliseconds(500))
        let worker = try BusWorker(settings: device.bus, configuration: line, logger: log.logger(minimumLevel: .info))
        worker.add(device, channel: channel)
        return worker
    }

    /// Waits (bounded: 10 s) until `condition` holds.
    private func until(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test("The $trace command switches the bus's trace on (frames logged as sent) and off again")
    func switchedByCommand() async throws {
        let gateway = try GatewayFixture(start: false)
        let log = CapturedLog()
        let channel = RecordingDeviceChannel()
        let worker = try worker(gateway, log: log, channel: channel)

        // Polling runs, untraced.
        #expect(await channel.first(.events) != nil)
        #expect(log.events("bus_trace").isEmpty)

        channel.inject(.devicePoint(device: "oven-1", point: "$trace"), #"{"on": true, "for": "10m", "id": "t1"}"#)
        let on = await channel.first(.ack) { $0["id"] as? String == "t1" }
        #expect(on?["ok"] as? Bool == true)
        #expect(await until { log.events("bus_trace").count >= 3 })
        let sent = Set(gateway.simulator.requests.map { FrameExchange.hex($0.frame) })
        for record in log.events("bus_trace") {
            #expect(record["bus"] == "line")
            #expect(record["unit"] == "1")
            #expect(sent.contains(record["tx"] ?? ""), "traced a request the simulator never received: \(record.line)")
            #expect(record["outcome"] == "ok" || record["outcome"] == "exception 02")
        }
        #expect(log.events("bus_trace_switched").first?["on"] == "true")
        #expect(log.events("bus_trace_switched").first?["for_s"] == "600")
        #expect(log.events("bus_trace_requested").first?["device"] == "oven-1")

        channel.inject(.devicePoint(device: "oven-1", point: "$trace"), #"{"on": false, "id": "t2"}"#)
        let off = await channel.first(.ack) { $0["id"] as? String == "t2" }
        #expect(off?["ok"] as? Bool == true)
        #expect(log.events("bus_trace_switched").last?["on"] == "false")
        let traced = log.events("bus_trace").count
        // Several more poll cycles on the wire, none traced.
        let requestsBefore = gateway.simulator.requests.count
        #expect(await until { gateway.simulator.requests.count >= requestsBefore + 6 })
        #expect(log.events("bus_trace").count == traced)

        // A malformed switch is refused on events/ack and changes nothing.
        channel.inject(.devicePoint(device: "oven-1", point: "$trace"), #"{"on": true, "for": "3d", "id": "t3"}"#)
        let refused = await channel.first(.ack) { $0["id"] as? String == "t3" }
        #expect(refused?["ok"] as? Bool == false)
        #expect((refused?["error"] as? String)?.contains("at most 24h") == true)
        await worker.stop(reason: "test over")
        #expect(log.events("bus_trace").count == traced)
    }

    @Test("\"trace\": true on a bus traces from the start")
    func fromConfig() async throws {
        let gateway = try GatewayFixture(start: false)
        let text = try String(contentsOfFile: gateway.configFile, encoding: .utf8)
        try text.replacingOccurrences(of: #""responseTimeout": "500ms""#, with: #""responseTimeout": "500ms", "trace": true"#)
            .write(toFile: gateway.configFile, atomically: true, encoding: .utf8)
        let loaded = try ConfigurationLoader.load(configFile: gateway.configFile)
        #expect(loaded.config.buses.first?.trace == true)

        let log = CapturedLog()
        let channel = RecordingDeviceChannel()
        let worker = try worker(gateway, log: log, trace: true, channel: channel)
        #expect(await until { log.events("bus_trace").count >= 2 })
        await worker.stop(reason: "test over")
    }

    @Test("On a live bus, each exchange is traced or counted as suppressed, never more than the bound a second")
    func rateBoundOnABus() async throws {
        let folder = TemporaryFolder()
        let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1)], linkPath: folder.path + "/ttySIM")
        defer { simulator.stop() }
        let log = CapturedLog()
        let bus = try Bus(BusConfiguration(target: .rtu(path: simulator.address, settings: SerialSettings(baudRate: .b115200))),
                          trace: log.logger().frameTrace(bus: "fast", linesPerSecond: 5))
        for _ in 0..<20 { _ = try await bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1) }
        await bus.close()  // reports what is still held back
        let lines = log.events("bus_trace")
        let suppressed = log.events("trace_suppressed").compactMap { $0["count"].flatMap(Int.init) }
        #expect(lines.count + suppressed.reduce(0, +) == 20)
        // The first second's bound always passes its first five.
        #expect(lines.count >= 5)
    }

    @Test("modbridge run: the device's registry switches the trace over MQTT; the gateway's log gets the frames")
    func overMQTT() async throws {
        let gateway = try GatewayFixture(start: false)
        let stderrFile = gateway.folder.path + "/gateway.log"
        let process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", gateway.configFile], standardErrorFile: stderrFile)
        defer { process.stop() }
        for _ in 0..<1000 where !acceptsConnections(port: gateway.port) { usleep(10_000) }
        // The listener logs anonymous clients in as the registry `plant`.
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/events/ack"])
        func log() -> String { String(decoding: readFileBytes(stderrFile) ?? [], as: UTF8.self) }
        #expect(await until { log().contains("event=line_opened") })
        #expect(!log().contains("event=bus_trace "))

        try await client.publish(topic: "$devices/oven-1/commands/$trace", payload: Array(#"{"on": true, "for": "1m", "id": "m1"}"#.utf8),
                                 qos: .atLeastOnce)
        let ack = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events/ack") { $0["id"] as? String == "m1" }
        #expect(ack?["ok"] as? Bool == true)
        #expect(await until { log().contains("event=bus_trace bus=line") })
        #expect(log().contains("event=bus_trace_switched bus=line on=true for_s=60"))
        await client.disconnect()
    }
}
