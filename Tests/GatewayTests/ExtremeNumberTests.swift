import Foundation
import Glibc
import Testing
import TestSupport

/// Numbers from outside at and past every limit, through the real binary: `check` reports them
/// (exit 1, the JSON path), the command line refuses them (exit 64, the argument), and a reload
/// with one is refused while the running gateway goes on. Never a trap.
@Suite("Extreme numbers in config files and on the command line")
struct ExtremeNumberTests {
    private func demoConfig(responseTimeout: String, in folder: TemporaryFolder) throws -> String {
        let file = folder.path + "/config.json"
        try """
        { "profiles": ["\(CheckCommandTests.repository)/mappings"],
          "buses": [{ "id": "sim", "type": "simulator", "units": [1], "responseTimeout": \(responseTimeout) }],
          "registries": [{ "id": "demo", "devices": [{ "id": "oven-1", "bus": "sim", "unit": 1, "profile": "modbridge-simulator" }] }] }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    static let checkCases: [(String, String)] = [
        ("1e19", "$.buses[0].responseTimeout: found 1e+19, expected a duration 1ms...1m"),
        ("18446744073709551616", "$.buses[0].responseTimeout: found 1.8446744073709552e+19, expected a duration 1ms...1m"),
        ("-9223372036854775808", "$.buses[0].responseTimeout: found -9223372036854775808, expected a duration 1ms...1m"),
        ("\"9999999999h\"", "$.buses[0].responseTimeout: found \"9999999999h\", expected a duration 1ms...1m"),
        ("1e400", "line 2 column 82: number out of range: 1e400 (a number is at most ±1.8e308) (in $.buses[0].responseTimeout)"),
    ]

    @Test("check reports a huge duration with its JSON path and exits 1", arguments: checkCases)
    func checkReportsHugeDurations(value: String, expected: String) throws {
        let folder = TemporaryFolder()
        let file = try demoConfig(responseTimeout: value, in: folder)
        let result = try ModbridgeProcess.run(["check", file])
        #expect(result.status == 1, "\(result.error)")
        #expect(result.error.hasPrefix("\(file): \(expected)"), "\(result.error)")
        #expect(result.error.hasSuffix("\(file): 1 problem; nothing was started\n"))
    }

    static let line = ["/dev/modbridge-none", "--unit", "1", "--table", "holding", "--address", "0"]

    static let badArguments: [([String], String)] = [
        (["read"] + line + ["--timeout", "1e19"], "--timeout"),
        (["read"] + line + ["--timeout", "18446744073709551616"], "--timeout"),
        (["read"] + line + ["--timeout", "-1"], "--timeout"),
        (["read"] + line + ["--byte-timeout", "99999999999999999999"], "--byte-timeout"),
        (["read"] + line + ["--repeat", "1e400"], "--repeat"),
        (["read"] + line + ["--repeat", "nan"], "--repeat"),
        (["read"] + line + ["--repeat", "-0"], "--repeat"),
        (["read"] + line + ["--repeat", "1e19"], "--repeat"),
        (["read"] + line + ["--repeat", "1", "--polls", "99999999999999999999"], "--polls"),
        (["read"] + line + ["--count", "18446744073709551616"], "--count"),
        (["read"] + line + ["--baud", "18446744073709551616"], "--baud"),
        (["read", "/dev/x", "--unit", "1", "--table", "holding", "--address", "-1"], "--address"),
        (["read", "/dev/x", "--unit", "1", "--table", "holding", "--address", "1e3"], "--address"),
        (["read", "/dev/x", "--unit", "256", "--table", "holding", "--address", "0"], "--unit"),
        (["write", "/dev/x", "--unit", "1", "--table", "holding", "--address", "0", "--value", "18446744073709551616", "--type", "uint64"], "--value"),
        (["write", "/dev/x", "--unit", "1", "--table", "holding", "--address", "0", "--value", "-9223372036854775809", "--type", "int64"], "--value"),
        (["write", "/dev/x", "--unit", "1", "--table", "holding", "--address", "0", "--value", "1e400", "--type", "float64"], "--value"),
        (["write", "/dev/x", "--unit", "1", "--table", "holding", "--address", "0", "--value", "1e39", "--type", "float32"], "--value"),
        (["write", "/dev/x", "--unit", "1", "--table", "holding", "--address", "0", "--value", "-99999999999999999999"], "--value"),
        (["broker", "--port", "65536"], "--port"),
        (["broker", "--max-message-size", "1e19"], "--max-message-size"),
        (["broker", "--max-pending-bytes", "9223372036854775808"], "--max-pending-bytes"),
        (["broker", "--sync-interval", "18446744073709551616"], "--sync-interval"),
        (["simulate", "--tcp", "70000"], "--tcp"),
        (["simulate", "--unit", "1,99999999999999999999"], "--unit"),
        (["read", "tcp://127.0.0.1:99999999999999999999", "--unit", "1", "--table", "holding", "--address", "0"], "tcp://127.0.0.1:99999999999999999999"),
    ]

    @Test("An extreme number on the command line exits 64 naming the argument", arguments: badArguments)
    func badNumber(arguments: [String], culprit: String) throws {
        let result = try ModbridgeProcess.run(arguments)
        #expect(result.status == 64, "\(result.error)")
        #expect(result.error.contains("\(culprit):"), "stderr: \(result.error)")
        #expect(result.output.isEmpty)
    }

    @Test("A reload with interval 1e19 in a point override is refused; the gateway stays up, polls on, and takes a good config after")
    func reloadWithAHugeIntervalIsRefused() async throws {
        let gateway = try GatewayFixture(start: false)
        let log = gateway.folder.path + "/gateway.log"
        let process = try ChildProcess(modbridgeExecutable, ["run", "--config", gateway.configFile], standardErrorFile: log)
        defer { process.stop() }
        #expect(await eventually({ acceptsConnections(port: gateway.port) }, attempts: 1000))
        #expect(await eventually { gateway.simulator.requests.count >= 5 })

        let original = try String(contentsOfFile: gateway.configFile, encoding: .utf8)
        #expect(original.contains(#""profile": "test-oven""#))
        func rewrite(interval: String) throws {
            try original.replacingOccurrences(of: #""profile": "test-oven""#, with: #""profile": "test-oven", "overrides": { "points": { "temperature": { "interval": \#(interval) } } }"#)
                .write(toFile: gateway.configFile, atomically: true, encoding: .utf8)
        }
        func count(_ event: String) -> Int {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.components(separatedBy: "event=\(event) ").count - 1
        }

        for (round, interval) in ["1e19", "18446744073709551616", "-1", "\"1e19ms\""].enumerated() {
            try rewrite(interval: interval)
            kill(process.pid, SIGHUP)
            #expect(await eventually({ count("reload_refused") == round + 1 }, attempts: 1000), "reload \(round + 1) (\(interval)) was not refused")
            #expect(process.isRunning, "the gateway ended on a reload with interval \(interval)")
            // Still polling: new requests reach the controller after the refused reload.
            let seen = gateway.simulator.requests.count
            #expect(await eventually { gateway.simulator.requests.count >= seen + 5 })
        }
        let problems = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").filter { $0.contains("event=config_problem") } ?? []
        #expect(problems.first?.contains("$.points[2].interval: found 1e+19, expected a duration 10ms...24h") == true, "\(problems)")

        // A good config afterwards is taken.
        try rewrite(interval: "\"200ms\"")
        kill(process.pid, SIGHUP)
        #expect(await eventually({ count("reloaded") == 1 }, attempts: 1000))
        #expect(count("reload_refused") == 4)
        #expect(process.isRunning)
    }
}
