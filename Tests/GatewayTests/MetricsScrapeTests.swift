import Foundation
@testable import GatewayCore
import Modbus
import MQTT
import POSIX
import Registry
import Testing
import TestSupport

/// `/metrics` of a real `GatewayRuntime` (its embedded broker, a bus on the simulator's pty)
/// after faults the simulator injected, parsed by a real Prometheus parser: prometheus_client's,
/// in Tests/Peers/prometheus_parse.py.
@Suite("Metrics: a running gateway's page, parsed by prometheus_client")
struct MetricsScrapeTests {
    static let parser = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Peers/prometheus_parse.py").path

    /// A sample as the parser read it.
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
    }

    /// Families (name → type) and samples (→ value) the parser read from `page`.
    static func parse(_ page: [UInt8], in folder: TemporaryFolder) throws -> (types: [String: String], samples: [Sample: Double]) {
        let file = folder.path + "/metrics.txt"
        try Data(page).write(to: URL(fileURLWithPath: file))
        let process = try ChildProcess("python3", ["-B", parser, file], inheritStandardError: true)
        let line = try #require(process.readLine(timeout: .seconds(30)), "the parser printed nothing")
        #expect(process.waitForExit() == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["error"] == nil, "prometheus_client: \(object["error"] ?? "")")
        var types: [String: String] = [:]
        var samples: [Sample: Double] = [:]
        for family in object["families"] as? [[String: Any]] ?? [] {
            types[family["name"] as? String ?? ""] = family["type"] as? String
            for sample in family["samples"] as? [[String: Any]] ?? [] {
                let key = Sample(name: sample["name"] as? String ?? "", labels: sample["labels"] as? [String: String] ?? [:])
                #expect(samples[key] == nil, "series twice: \(key)")
                samples[key] = (sample["value"] as? NSNumber)?.doubleValue
            }
        }
        return (types, samples)
    }

    @Test("Timeouts, CRC errors and exceptions injected on the line, and command acks, are the page's numbers")
    func countersAfterInjectedFaults() async throws {
        let fixture = try GatewayFixture(start: false)
        GatewayFixture.setKnownValues(on: try fixture.controller())
        let runtime = try await GatewayRuntime.start(try RegistryLoader.load(configFile: fixture.configFile), logger: .discarding)
        let operations = runtime.operations
        func bus() -> BusStatus { operations.snapshot().buses.first?.status ?? BusStatus() }
        func device() -> DeviceLinkBoard.Link? { operations.snapshot().devices.first?.link }
        /// Waits for an answer after now: the failures before it are not consecutive with the next ones.
        func answerAfterNow() async -> Bool {
            let mark = ContinuousClock.now
            return await eventually { (device()?.lastAnswer).map { $0 > mark } == true }
        }

        #expect(await eventually { device()?.state == "online" })
        fixture.simulator.inject(.noAnswer, unit: 1, times: 2)
        #expect(await eventually({ bus().timeouts == 2 }, attempts: 1000))
        #expect(await answerAfterNow())
        fixture.simulator.inject(.corruptChecksum, unit: 1, times: 2)
        #expect(await eventually { bus().crcErrors == 2 })
        #expect(await answerAfterNow())
        fixture.simulator.inject(.exception(.serverDeviceBusy), unit: 1, times: 3)
        #expect(await eventually { bus().exceptions[6] == 3 })

        // One command written, one refused (out of range): acknowledged ok and failed.
        let client = try await connect(fixture.port, "metrics-test")
        try await client.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": 50, "id": "ok-1"}"#.utf8), qos: .atLeastOnce)
        try await client.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": 999, "id": "bad-1"}"#.utf8), qos: .atLeastOnce)
        #expect(await eventually { device()?.writesOK == 1 && device()?.writesFailed == 1 })
        #expect(await eventually { device()?.state == "online" })

        // The same counters in the device's `$monitoring/<id>/json` fields, for the console.
        let monitoring = Dictionary(await runtime.links.monitoringFields("oven-1"), uniquingKeysWith: { $1 })
        #expect(monitoring["modbus_timeouts"] == .integer(2))
        #expect(monitoring["modbus_crc_errors"] == .integer(2))
        #expect(monitoring["modbus_framing_errors"] == .integer(0))
        #expect(monitoring["modbus_exceptions"] == .integer(3))

        let before = operations.snapshot()
        let response = operations.metrics()
        let after = operations.snapshot()
        await client.disconnect()
        await runtime.stop(reason: "test done")

        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8")
        let (types, samples) = try Self.parse(response.body, in: fixture.folder)
        let line = ["bus": "line"]
        let oven = ["device": "oven-1", "bus": "line", "unit": "1"]
        // Exactly what was injected, and nothing else went wrong on the line.
        #expect(samples[Sample(name: "modbridge_bus_timeouts_total", labels: line)] == 2)
        #expect(samples[Sample(name: "modbridge_bus_crc_errors_total", labels: line)] == 2)
        #expect(samples[Sample(name: "modbridge_bus_exceptions_total", labels: ["bus": "line", "code": "6"])] == 3)
        #expect(samples.keys.filter { $0.name == "modbridge_bus_exceptions_total" }.count == 1)
        #expect(samples[Sample(name: "modbridge_bus_framing_errors_total", labels: line)] == 0)
        #expect(samples[Sample(name: "modbridge_bus_failures_total", labels: line)] == 7)
        #expect(samples[Sample(name: "modbridge_bus_line_open", labels: line)] == 1)
        #expect(samples[Sample(name: "modbridge_bus_line_reopens_total", labels: line)] == 0)
        #expect(samples[Sample(name: "modbridge_bus_progress_limit_seconds", labels: line)] == 10)
        #expect(samples[Sample(name: "modbridge_device_online", labels: oven)] == 1)
        #expect(samples[Sample(name: "modbridge_device_writes_total", labels: oven.merging(["result": "ok"]) { $1 })] == 1)
        #expect(samples[Sample(name: "modbridge_device_writes_total", labels: oven.merging(["result": "failed"]) { $1 })] == 1)
        // Counters that keep moving (polls every 100 ms) lie between the snapshots around the render.
        let transactions = try #require(samples[Sample(name: "modbridge_bus_transactions_total", labels: line)])
        #expect(Double(try #require(before.buses.first).status.transactions) <= transactions)
        #expect(transactions <= Double(try #require(after.buses.first).status.transactions))
        let received = try #require(samples[Sample(name: "modbridge_broker_messages_received_total", labels: [:])])
        #expect(Double(try #require(before.broker).messagesReceived) <= received)
        #expect(received <= Double(try #require(after.broker).messagesReceived))
        let age = try #require(samples[Sample(name: "modbridge_device_last_answer_age_seconds", labels: oven)])
        #expect(age >= 0 && age < 10)
        #expect(try #require(samples[Sample(name: "modbridge_bus_cycle_seconds", labels: line)]) > 0)
        #expect(try #require(samples[Sample(name: "modbridge_bus_cycle_predicted_seconds", labels: line)]) > 0)
        // The parser's view of the types: counters (named without `_total`) and gauges.
        #expect(types["modbridge_bus_timeouts"] == "counter")
        #expect(types["modbridge_broker_messages_received"] == "counter")
        #expect(types["modbridge_device_online"] == "gauge")
        #expect(types["modbridge_bus_progress_age_seconds"] == "gauge")
    }
}
