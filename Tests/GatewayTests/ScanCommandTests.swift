import Foundation
import Glibc
import Mapping
import Modbus
import Serial
import Testing
import TestSupport

/// `modbridge scan` and `--trace`, run as the built binary against simulators and pymodbus.
@Suite("modbridge scan and --trace")
struct ScanCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let simulatorProfile = repository.appendingPathComponent("mappings/modbridge-simulator.json").path
    static let peers = repository.appendingPathComponent("Tests/Peers").path

    /// Units 3, 7 and 200 on a pty behind a link in `folder`.
    private func simulator(in folder: TemporaryFolder, units: [UInt8] = [3, 7, 200],
                           lineSettings: SerialSettings? = nil) throws -> ModbusSimulator {
        try ModbusSimulator.startRTU(controllers: units.map { SimulatedController(unit: $0) }, linkPath: folder.path + "/ttySIM",
                                     lineSettings: lineSettings)
    }

    /// The `--json` document a scan printed last.
    private func document(_ output: String) throws -> [String: Any] {
        let last = output.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    }

    private func units(_ document: [String: Any]) -> [Int] {
        (document["devices"] as? [[String: Any]] ?? []).compactMap { $0["unit"] as? Int }
    }

    @Test("Finds the simulator's units 3, 7 and 200 and no other")
    func findsUnits() throws {
        let folder = TemporaryFolder()
        let simulator = try simulator(in: folder)
        defer { simulator.stop() }
        let table = try ModbridgeProcess.run(["scan", simulator.address, "--units", "1-8,199-201", "--baud", "9600"])
        #expect(table.status == 0)
        #expect(table.output.contains("for 11 unit ids, 100 ms each, at 9600 8N1: at most"))
        for unit in [3, 7, 200] { #expect(table.output.contains("unit \(unit): answered at 9600 8N1")) }
        #expect(table.output.contains("found 3 devices at 9600 8N1"))

        let json = try ModbridgeProcess.run(["scan", simulator.address, "--units", "1-8,199-201", "--baud", "9600", "--json"])
        #expect(json.status == 0)
        let found = try document(json.output)
        #expect(units(found) == [3, 7, 200])
        #expect(found["settings"] as? String == "9600 8N1")
        // One probe per candidate, and only the probe.
        #expect(simulator.requests.count == 22)
        #expect(Set(simulator.requests.map(\.functionCode)) == [3])
    }

    @Test("Nothing at the unit ids tried: exit 1")
    func findsNothing() throws {
        let folder = TemporaryFolder()
        let simulator = try simulator(in: folder)
        defer { simulator.stop() }
        let result = try ModbridgeProcess.run(["scan", simulator.address, "--units", "1,2,4", "--timeout", "50"])
        #expect(result.status == 1)
        #expect(result.output.contains("no device answered"))
    }

    @Test("A broken answer is reported as something at other settings, not as a device")
    func garbledAnswer() throws {
        let folder = TemporaryFolder()
        let simulator = try simulator(in: folder)
        defer { simulator.stop() }
        simulator.inject(.corruptChecksum, unit: 7, times: nil)
        let result = try ModbridgeProcess.run(["scan", simulator.address, "--units", "3,7", "--json"])
        #expect(result.status == 0)
        let found = try document(result.output)
        #expect(units(found) == [3])
        let wrong = found["wrongSettings"] as? [[String: Any]] ?? []
        #expect(wrong.compactMap { $0["unit"] as? Int } == [7])
        #expect(wrong.first?["reason"] as? String == "CRC error in the answer")
    }

    @Test("--baud auto finds the baud rate and parity the simulator keeps, trying 8E1 first")
    func autoSettings() throws {
        let folder = TemporaryFolder()
        let simulator = try simulator(in: folder, lineSettings: SerialSettings(baudRate: .b19200, parity: .odd))
        defer { simulator.stop() }
        let result = try ModbridgeProcess.run(["scan", simulator.address, "--units", "2,3,7", "--baud", "auto", "--json"])
        #expect(result.status == 0)
        let found = try document(result.output)
        #expect(units(found) == [3, 7])
        #expect(found["settings"] as? String == "19200 8O1")
        #expect(found["tried"] as? [String] == ["9600 8E1", "9600 8N1", "9600 8O1", "19200 8E1", "19200 8N1", "19200 8O1"])

        let table = try ModbridgeProcess.run(["scan", simulator.address, "--units", "3", "--baud", "auto", "--parity", "odd"])
        #expect(table.status == 0)
        #expect(table.output.contains("trying 9600 8O1, 19200 8O1, 38400 8O1"))
        #expect(table.output.contains("9600 8O1: no answer"))
        #expect(table.output.contains("unit 3: answered at 19200 8O1"))
    }

    @Test("--profile: the simulator's own profile fits; one with an address it lacks names the points that do not")
    func profileFit() throws {
        let folder = TemporaryFolder()
        let simulator = try simulator(in: folder)
        defer { simulator.stop() }
        let fits = try ModbridgeProcess.run(["scan", simulator.address, "--units", "3", "--profile", Self.simulatorProfile])
        #expect(fits.status == 0)
        #expect(fits.output.contains("unit 3 against profile modbridge-simulator:"))
        #expect(fits.output.contains("read holding registers 0+3"))
        #expect(fits.output.contains("  fits"))

        // high_alarm_limit moved to holding 12000, past the simulator's 10,000 registers.
        let text = String(decoding: try #require(readFileBytes(Self.simulatorProfile)), as: UTF8.self)
        let moved = text.replacingOccurrences(of: "\"address\": 2, \"type\": \"int16\"", with: "\"address\": 12000, \"type\": \"int16\"")
        #expect(moved != text)
        let profile = folder.path + "/modbridge-simulator.json"
        try moved.write(toFile: profile, atomically: true, encoding: .utf8)
        let misfit = try ModbridgeProcess.run(["scan", simulator.address, "--units", "3", "--profile", profile, "--json"])
        #expect(misfit.status == 0)
        let device = (try document(misfit.output)["devices"] as? [[String: Any]])?.first
        let check = device?["profile"] as? [String: Any]
        #expect(check?["fits"] as? Bool == false)
        #expect(check?["misfits"] as? [String] == ["high_alarm_limit"])
        let results = (check?["checks"] as? [[String: Any]] ?? []).map { "\($0["request"] ?? ""): \($0["result"] ?? "")" }
        #expect(results.contains("read holding registers 12000+1: exception 02 (address not implemented)"))
        #expect(results.contains("read holding registers 0+2: answered"))

        let table = try ModbridgeProcess.run(["scan", simulator.address, "--units", "3", "--profile", profile])
        #expect(table.output.contains("does not fit: high_alarm_limit"))
    }

    @Test("Bad scan arguments exit 64 naming the argument", arguments: [
        (["scan", "/dev/x", "--units", "0-3"], "--units"),
        (["scan", "/dev/x", "--units", "5-2"], "--units"),
        (["scan", "/dev/x", "--units", "1,,2"], "--units"),
        (["scan", "/dev/x", "--baud", "1234"], "--baud"),
        (["scan", "/dev/x", "--parity", "mark"], "--parity"),
        (["scan", "tcp://127.0.0.1:1502", "--baud", "auto"], "--baud"),
        (["scan", "/dev/x", "--timeout", "0"], "--timeout"),
        (["simulate", "--tcp", "0", "--baud", "9600"], "--tcp"),
    ])
    func badArguments(arguments: [String], culprit: String) throws {
        let result = try ModbridgeProcess.run(arguments)
        #expect(result.status == 64)
        #expect(result.error.contains(culprit))
    }

    @Test("read --trace prints the exact request and answer frames in hex")
    func readTrace() throws {
        let folder = TemporaryFolder()
        let simulator = try simulator(in: folder)
        defer { simulator.stop() }
        let result = try ModbridgeProcess.run(["read", simulator.address, "--unit", "3", "--table", "holding", "--address", "0",
                                               "--count", "3", "--trace"])
        #expect(result.status == 0)
        #expect(result.output == "[0]: 650\n[1]: 1\n[2]: 900\n")
        let request = FrameExchange.hex(ModbusPDU.rtuFrame(unit: 3, pdu: [0x03, 0x00, 0x00, 0x00, 0x03]))
        let answer = FrameExchange.hex(ModbusPDU.rtuFrame(unit: 3, pdu: [0x03, 0x06, 0x02, 0x8A, 0x00, 0x01, 0x03, 0x84]))
        let traced = result.error.split(separator: "\n").filter { $0.contains("event=bus_trace") }
        #expect(traced.count == 1)
        #expect(traced.first?.contains("unit=3 fc=03 outcome=ok tx=\"\(request)\" rx=\"\(answer)\"") == true)
        #expect(simulator.requests.map { FrameExchange.hex($0.frame) } == [request])
    }

    @Test("pymodbus behind a relay that keeps its line settings: scan finds its unit id, and its baud rate and parity with auto")
    func pymodbus() throws {
        let folder = TemporaryFolder()
        let relay = try ChildProcess("python3", [Self.peers + "/line_settings_relay.py", "--baud", "19200", "--parity", "E"])
        defer { relay.stop() }
        let paths = try #require(relay.readLine()).split(separator: " ").map(String.init)
        #expect(relay.readLine() == "ready")
        try #require(paths.count == 2)
        let server = try ChildProcess("python3", [Self.peers + "/pymodbus_server.py", "--rtu", paths[1], "--baud", "19200"])
        defer { server.stop() }
        #expect(server.readLine() == "ready")
        _ = folder

        // pymodbus may still be opening its side: the first scan is retried until it answers.
        var fixed: ModbridgeProcess.Result?
        for _ in 0..<20 {
            let result = try ModbridgeProcess.run(["scan", paths[0], "--units", "5-9", "--baud", "19200", "--parity", "even",
                                                   "--timeout", "300", "--json"])
            fixed = result
            if result.status == 0 { break }
        }
        let found = try document(try #require(fixed).output)
        #expect(units(found) == [7])

        let auto = try ModbridgeProcess.run(["scan", paths[0], "--units", "6,7", "--baud", "auto", "--timeout", "300", "--json"])
        #expect(auto.status == 0)
        let detected = try document(auto.output)
        #expect(units(detected) == [7])
        #expect(detected["settings"] as? String == "19200 8E1")
        #expect((detected["tried"] as? [String])?.last == "19200 8E1")
    }

    @Test("modbridge simulate --baud --parity --trace: found by scan --baud auto; its trace shows what it ignored and answered")
    func simulateCommand() throws {
        let folder = TemporaryFolder()
        let log = folder.path + "/simulate.log"
        let simulate = try ChildProcess(ModbridgeProcess.executable, ["simulate", "--unit", "5", "--baud", "19200", "--parity", "odd", "--trace"],
                                        standardErrorFile: log)
        defer { simulate.stop() }
        let path = try #require(simulate.readLine())
        let result = try ModbridgeProcess.run(["scan", path, "--units", "5", "--baud", "auto", "--parity", "odd", "--json"])
        #expect(result.status == 0)
        #expect(try document(result.output)["settings"] as? String == "19200 8O1")
        let probe = FrameExchange.hex(ModbusPDU.rtuFrame(unit: 5, pdu: [0x03, 0x00, 0x00, 0x00, 0x01]))
        func traced() -> [Substring] {
            String(decoding: readFileBytes(log) ?? [], as: UTF8.self).split(separator: "\n").filter { $0.contains("event=bus_trace") }
        }
        // The simulator's log writer runs on its own thread: wait (bounded) for its lines.
        for _ in 0..<500 where traced().count < 2 { usleep(10_000) }
        let lines = traced()
        // 9600 8O1 first: received and ignored; then 19200 8O1: answered.
        #expect(lines.count == 2)
        #expect(lines.first?.contains("unit=5 fc=03 outcome=ignored tx=\"\(probe)\" rx=\"\"") == true)
        #expect(lines.last?.contains("unit=5 fc=03 outcome=ok tx=\"\(probe)\" rx=\"05 03 02 02 8A") == true)
    }
}
