import Foundation
import Testing
import TestSupport

@Suite("modbridge check: a config and its profiles, validated without opening anything")
struct CheckCommandTests {
    /// Tests/GatewayTests/<this file> → the repository.
    static let repository = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("The shipped demo config passes, with a summary of its devices")
    func demoPasses() throws {
        let result = try ModbridgeProcess.run(["check", Self.repository + "/examples/demo.json"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("OK — 1 bus, 2 devices"))
        #expect(result.output.contains("demo/oven-1: bus sim unit 1, profile modbridge-simulator"))
        #expect(result.output.contains("  listener 127.0.0.1:8080: MQTT over WebSocket at /mqtt, the console, /metrics and /healthz (HTTP, passwords accepted without TLS)\n"),
                "\(result.output)")
    }

    @Test("The shipped upstream example passes, with its upstream broker and connections")
    func upstreamExamplePasses() throws {
        let result = try ModbridgeProcess.run(["check", Self.repository + "/examples/upstream.json"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("OK — 1 bus, 3 devices"))
        #expect(result.output.contains("  upstream mqtts://mqtt.example.com:8883: 3 per-device connections, topics plant/{id} and plant/registries/{id}\n"))
    }

    @Test("The plant example passes and says what its bus server lets a vendor's tool reach")
    func plantExampleListsItsBusServer() throws {
        let result = try ModbridgeProcess.run(["check", Self.repository + "/examples/modbridge.json"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("  bus line1: Modbus TCP server on 127.0.0.1:1503 for units 1,2,3, functions 3,4,6 (reads and writes), at most 4 clients\n"),
                "\(result.output)")
    }

    @Test("--plan lists each device's merged read requests, per interval, with the points they carry")
    func listsPlan() throws {
        let result = try ModbridgeProcess.run(["check", "--plan", Self.repository + "/examples/demo.json"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        // The simulator's profile: holding 0–2, input 0–4 (1 s) and 5–6 (10 s), discrete 0–1.
        let oven = lines.drop { !$0.contains("demo/oven-1:") }.prefix(5)
        #expect(oven.first?.contains("10 polled points in 4 read requests per cycle") == true)
        #expect(Array(oven.dropFirst()) == [
            "      every 1s: read holding registers 0+3: set_point, running, high_alarm_limit",
            "      every 1s: read input registers 0+5: temperature, heater_output, status, temperature_float",
            "      every 10s: read input registers 5+2: uptime",
            "      every 1s: read discrete inputs 0+2: heating, high_alarm",
        ])
    }

    @Test("A config with errors in it and in a profile: every error listed, exit status 1")
    func everyErrorListed() throws {
        let folder = TemporaryFolder()
        try """
        { "model": "bad", "vendor": "v", "points": [{ "name": "pv", "table": "input", "address": -1, "type": "int16" }] }
        """.write(toFile: folder.path + "/bad.json", atomically: true, encoding: .utf8)
        try """
        { "profiles": ["\(folder.path)", "\(Self.repository)/mappings"],
          "buses": [{ "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "parity": "evn" }],
          "registries": [{ "id": "plant", "devices": [
            { "id": "oven-1", "bus": "line1", "unit": 0, "profile": "delta-dtb", "overrides": { "points": { "sv": { "max": "x" } } } }] }] }
        """.write(toFile: folder.path + "/config.json", atomically: true, encoding: .utf8)
        let result = try ModbridgeProcess.run(["check", folder.path + "/config.json"])
        #expect(result.status == 1)
        let lines = result.error.split(separator: "\n").map(String.init)
        let config = folder.path + "/config.json"
        #expect(lines == [
            "\(config): $.buses[0].parity: found \"evn\", expected one of none, even, odd",
            "\(config): $.registries[0].devices[0].unit: found 0, expected a unit id 1...247 on the serial bus \"line1\"",
            "\(folder.path)/bad.json: $.points[0].address: found -1, expected an integer 0...65535",
            "\(config): $.registries[0].devices[0] (profile delta-dtb with overrides): $.points[1].max: found \"x\", expected a number",
            "\(config): 4 problems; nothing was started",
        ])
        #expect(result.output.isEmpty)
    }

    @Test("No config file: a usage error")
    func missingArgument() throws {
        let result = try ModbridgeProcess.run(["check"])
        #expect(result.status == 64)
    }
}
