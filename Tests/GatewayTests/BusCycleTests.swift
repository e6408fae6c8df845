import Foundation
import GatewayCore
import Mapping
import Modbus
import POSIX
import Registry
import Serial
import Testing
import TestSupport

/// The bus measures its poll cycle at run time and logs and publishes it beside the prediction.
@Suite("Bus cycle at run time: measured beside predicted")
struct BusCycleTests {
    static let line = SerialSettings(baudRate: .b19200, parity: .even, rs485: RS485Settings(mode: .off))

    @Test("bus_cycle is logged and published in monitoring; the measured cycle is never below the line's own time")
    func measuredBesidePredicted() async throws {
        let folder = TemporaryFolder()
        // The simulator keeps the line's character times, with the predictor's default turnaround.
        let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1, temperatureModel: false)],
                                                     linkPath: folder.path + "/ttySIM", lineTiming: SimulatedLineTiming(settings: Self.line))
        defer { simulator.stop() }
        let points = (0..<10).map { "{ \"name\": \"r\($0)\", \"table\": \"holding\", \"address\": \($0), \"type\": \"int16\" }" }
        try "{ \"model\": \"ten-registers\", \"vendor\": \"test\", \"points\": [\(points.joined(separator: ", "))] }"
            .write(toFile: folder.path + "/ten-registers.json", atomically: true, encoding: .utf8)
        try """
        { "profiles": ["\(folder.path)/ten-registers.json"],
          "buses": [{ "id": "line1", "type": "rtu", "device": "\(simulator.address)", "baud": 19200, "parity": "even", "rs485": "off" }],
          "registries": [{ "id": "plant", "devices": [{ "id": "oven-1", "bus": "line1", "unit": 1, "profile": "ten-registers",
                                                        "overrides": { "defaults": { "interval": "100ms" } } }] }] }
        """.write(toFile: folder.path + "/config.json", atomically: true, encoding: .utf8)
        let device = try #require(try ConfigurationLoader.load(configFile: folder.path + "/config.json").devices.first)

        let log = CapturedLog()
        let links = DeviceLinkBoard()
        let worker = try BusWorker(settings: device.bus, configuration: BusConfiguration(target: .rtu(path: simulator.address, settings: Self.line)),
                                   links: links, logger: log.logger())
        worker.add(device, channel: RecordingDeviceChannel())
        #expect(await eventually { !log.events("bus_cycle").isEmpty })
        let fields = Dictionary(uniqueKeysWithValues: try #require(log.events("bus_cycle").first).fields)
        let monitoring = links.monitoringFields("oven-1")
        await worker.stop(reason: "test over")

        // One FC03 of 10 registers at 19200 8E1: 18.9 ms of characters + 2 × t3.5 (2.0 ms) + 5 ms = 27.9 ms.
        #expect(fields["bus"] == "line1")
        #expect(fields["predicted_ms"] == "27.9")
        #expect(fields["requests"] == "1")
        let measured = try #require(fields["measured_ms"].flatMap(Double.init))
        // The simulator holds each answer until the line would have carried it, and the bus then
        // keeps t3.5: a round can take longer than predicted (the machine's own time), never less.
        #expect(measured >= 27.9 - 0.1)
        let byName = Dictionary(monitoring.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        #expect(byName["bus_cycle_predicted_ms"] == .integer(28))
        if case let .integer(published)? = byName["bus_cycle_ms"] { #expect(published >= 28) } else { Issue.record("no bus_cycle_ms") }
    }
}
