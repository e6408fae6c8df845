import Foundation
import Testing
import TestSupport

@Suite("modbridge check --plan: each bus's predicted poll cycle")
struct CheckCyclePlanTests {
    /// A profile of ten int16 holding registers at 0...9: one FC03 read of 10 registers.
    static let profile = """
    { "model": "ten-registers", "vendor": "test", "points": [
    \((0..<10).map { "  { \"name\": \"r\($0)\", \"table\": \"holding\", \"address\": \($0), \"type\": \"int16\" }" }.joined(separator: ",\n"))
    ] }
    """

    private func check(devices: String) throws -> (status: Int32, lines: [String], error: String) {
        let folder = TemporaryFolder()
        try Self.profile.write(toFile: folder.path + "/ten-registers.json", atomically: true, encoding: .utf8)
        try """
        { "profiles": ["\(folder.path)/ten-registers.json"],
          "buses": [{ "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "baud": 9600, "parity": "even", "rs485": "off" },
                    { "id": "plc", "type": "tcp", "host": "127.0.0.1" }],
          "registries": [{ "id": "plant", "devices": [\(devices)] }] }
        """.write(toFile: folder.path + "/config.json", atomically: true, encoding: .utf8)
        let result = try ModbridgeProcess.run(["check", "--plan", folder.path + "/config.json"])
        return (result.status, result.output.split(separator: "\n").map(String.init), result.error)
    }

    @Test("Read 10 holding registers at 9600 8E1: 33 bytes, 50.8 ms a cycle, 5.1 % of the line at 1 s")
    func predictedCycle() throws {
        let result = try check(devices: """
            { "id": "oven-1", "bus": "line1", "unit": 1, "profile": "ten-registers" }
            """)
        #expect(result.status == 0, "\(result.error)")
        let buses = Array(result.lines.drop { !$0.hasPrefix("  bus ") })
        // 8 + 25 bytes × 11 bits at 9600 = 37.8 ms, + t3.5 (4.0 ms) + 5 ms turnaround + t3.5 = 50.8 ms.
        #expect(buses == [
            "  bus line1: /dev/ttyUSB0 9600 8E1 RTU, t3.5 4.0 ms, 1 device (oven-1)",
            "      cycle: 1 request, 33 bytes on the wire, predicted 50.8 ms; shortest interval 1s, utilisation 5.1 %",
            "  bus plc: Modbus TCP 127.0.0.1:502, 0 devices",
            "      no cycle prediction on Modbus TCP: its time is the network's and the device's, not characters at a baud rate",
        ])
    }

    @Test("Intervals the line cannot keep: a warning naming the group polled late, exit status still 0")
    func warnsWhenIntervalsCannotBeMet() throws {
        let result = try check(devices: """
            { "id": "oven-1", "bus": "line1", "unit": 1, "profile": "ten-registers" },
            { "id": "oven-2", "bus": "line1", "unit": 2, "profile": "ten-registers",
              "overrides": { "defaults": { "interval": "20ms" }, "limits": { "turnaround": "15ms" } } }
            """)
        #expect(result.status == 0, "\(result.error)")
        let buses = Array(result.lines.drop { !$0.hasPrefix("  bus ") }.prefix(3))
        // oven-2's round takes 60.8 ms (a 15 ms turnaround) every 20 ms: 304 % alone.
        #expect(buses.count == 3)
        #expect(buses.first == "  bus line1: /dev/ttyUSB0 9600 8E1 RTU, t3.5 4.0 ms, 2 devices (oven-1, oven-2)")
        #expect(buses.dropFirst().first?.hasPrefix("      cycle: 2 requests, 66 bytes on the wire, predicted 111.7 ms; shortest interval 20ms, utilisation 309.") == true)
        #expect(buses.last == "      warning: the intervals cannot be met (utilisation above 100 %): oven-2 holding every 20ms (60.8 ms a round) polled late, every 111.7 ms or so")
    }
}
