import Foundation
import Glibc
import Modbus
import POSIX
import Testing
import TestSupport

/// `modbridge run` with a Modbus TCP server on its bus (docs/shared-bus.md): simulated units 1 and
/// 2 polled on a pty the test owns, the server on 127.0.0.1, and pymodbus 3.8.6 (a client no one
/// here wrote) reading and writing through it while the gateway polls.
@Suite("Shared bus: the gateway's Modbus TCP server")
struct BusServerTests {
    static let clientScript: String = {
        // Tests/GatewayTests/<this file> → Tests/Peers/modbus_tcp_client.py
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/modbus_tcp_client.py").path
    }()

    /// The gateway on `fixture`'s simulator with a server on `serverPort` allowing unit 1 and
    /// functions 3, 4, 6, 16. Every frame keeps 20 ms of silence before it while both devices are
    /// polled every 10 ms: after any transaction the other polls are due again, so the bus's
    /// fairness rule is what decides the order, not timing.
    private func startGateway(_ fixture: GatewayFixture, serverPort: UInt16, log: String) throws -> ChildProcess {
        try writeConfig(fixture, server: #"{ "listen": "127.0.0.1:\#(serverPort)", "units": [1], "functions": [3, 4, 6, 16] }"#)
        let process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", fixture.configFile], standardErrorFile: log)
        #expect(listens(serverPort), "the bus server never listened")
        return process
    }

    /// The fixture's config with its bus's `server` (a JSON object text).
    private func writeConfig(_ fixture: GatewayFixture, server: String) throws {
        let devices = [UInt8(1), 2].map { unit in
            #"{ "id": "oven-\#(unit)", "bus": "line", "unit": \#(unit), "profile": "test-oven", "overrides": { "defaults": { "interval": "10ms" } } }"#
        }
        try """
        { "broker": { "listeners": [{ "host": "127.0.0.1", "port": \(fixture.port), "anonymousAs": "plant" }] },
          "profiles": ["\(fixture.folder.path)/test-oven.json"],
          "buses": [{ "id": "line", "type": "rtu", "device": "\(fixture.simulator.address)", "rs485": "off",
                      "responseTimeout": "500ms", "interFrameDelay": "20ms", "server": \(server) }],
          "registries": [{ "id": "plant", "devices": [\(devices.joined(separator: ", "))] }] }
        """.write(toFile: fixture.configFile, atomically: true, encoding: .utf8)
    }

    /// Whether something listens on `port` within 10 s. One probe that connects is enough: each
    /// one is a client of the server.
    private func listens(_ port: UInt16) -> Bool {
        for _ in 0..<1000 {
            if acceptsConnections(port: port) { return true }
            usleep(10_000)
        }
        return false
    }

    /// The JSON lines pymodbus printed for `steps`, in order, up to "done".
    private func pymodbus(port: UInt16, _ steps: [String]) throws -> [[String: Any]] {
        let client = try ChildProcess("python3", [Self.clientScript, String(port)] + steps)
        defer { client.stop() }
        var lines: [[String: Any]] = []
        while let line = client.readLine(timeout: .seconds(60)), line != "done" {
            lines.append(try #require(GatewayFixture.json(Array(line.utf8)), "not JSON: \(line)"))
        }
        return lines
    }

    @Test("pymodbus reads and writes unit 1 through the server while the gateway polls; a unit or function not allowed gets 0x0A or 01")
    func readsWritesAndRefusals() async throws {
        let fixture = try GatewayFixture(units: [1, 2], start: false)
        let controller = try fixture.controller(1)
        controller.setRegisters(.holdingRegisters, address: 10, [111, 222, 333])
        controller.setRegisters(.inputRegisters, address: 0, [653])
        let serverPort = freePort()
        let gateway = try startGateway(fixture, serverPort: serverPort, log: fixture.folder.path + "/gateway.log")
        defer { gateway.stop() }

        let lines = try pymodbus(port: serverPort, ["read:1:10:3", "input:1:0:1", "write:1:12:4321", "read:1:10:3",
                                                    "read:2:0:2", "coil:1:0:1"])
        try #require(lines.count == 6, "\(lines)")
        #expect(lines[0]["registers"] as? [Int] == [111, 222, 333])
        #expect(lines[1]["registers"] as? [Int] == [653])
        #expect(lines[2]["ok"] as? Bool == true)
        #expect(controller.registers(.holdingRegisters, address: 12, count: 1) == [4321], "the write did not land in the device")
        #expect(lines[3]["registers"] as? [Int] == [111, 222, 4321])
        #expect(lines[4]["exception"] as? Int == 0x0A, "unit 2 is not allowed: \(lines[4])")
        #expect(lines[5]["exception"] as? Int == 0x01, "function 5 is not allowed: \(lines[5])")

        // The server's requests reached the line; the refused ones did not.
        let passed = fixture.simulator.requests.filter { $0.unit == 1 && $0.frame.count > 3 && Int($0.frame[2]) << 8 | Int($0.frame[3]) >= 10 }
        #expect(passed.map(\.functionCode) == [3, 6, 3])
        #expect(!fixture.simulator.requests.contains { $0.functionCode == 5 })
        // …and the gateway kept polling both units meanwhile.
        #expect(fixture.simulator.requests.contains { $0.unit == 2 })

        // The devices' monitoring shows the server's counters: 6 requests, 2 refused. A command's
        // ack is activity of the device, which makes its next `$monitoring` document.
        let (client, inbox) = try await fixture.subscriber(["$monitoring/oven-1/json"])
        try await client.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": 30, "id": "m"}"#.utf8), qos: .atLeastOnce)
        let monitoring = await GatewayFixture.message(in: inbox, on: "$monitoring/oven-1/json", within: 15) {
            $0["bus_server_requests"] as? Int == 6
        }
        #expect(monitoring?["bus_server_refused"] as? Int == 2, "\(monitoring ?? [:])")
        // 0 or 1: the server may not have seen the pymodbus client's close yet.
        #expect((monitoring?["bus_server_clients"] as? Int).map { (0...1).contains($0) } == true, "\(monitoring ?? [:])")
        await client.disconnect()
    }

    @Test("While a client floods unit 1 with pipelined reads, polls go on: never two pass-through requests in a row on the line")
    func pollCadenceHoldsUnderAFlood() async throws {
        let fixture = try GatewayFixture(units: [1, 2], start: false)
        try fixture.controller(1).setRegisters(.holdingRegisters, address: 100, [7, 8])
        let serverPort = freePort()
        let gateway = try startGateway(fixture, serverPort: serverPort, log: fixture.folder.path + "/gateway.log")
        defer { gateway.stop() }

        // 40 reads in one write: several in flight on one connection, answered in order.
        let socket = try Socket.connect(host: "127.0.0.1", port: serverPort, timeout: .seconds(5))
        let flood = (0..<40).map { MBAPFrame(transactionID: UInt16(1000 + $0), unit: 1, pdu: [0x03, 0x00, 100, 0x00, 0x02]) }
        try socket.writeAll(flood.flatMap(\.bytes))
        let answers = try readFrames(40, from: socket)
        #expect(answers.map(\.transactionID) == flood.map(\.transactionID))
        #expect(answers.allSatisfy { $0.unit == 1 && $0.pdu == [0x03, 0x04, 0x00, 0x07, 0x00, 0x08] })

        // The line's order: between the first and the last flood request, each flood request is
        // followed by at least one poll, and unit 2 is polled throughout.
        let log = fixture.simulator.requests
        func isFlood(_ request: SimulatorRequest) -> Bool {
            request.unit == 1 && request.functionCode == 3 && request.frame[2] == 0 && request.frame[3] == 100
        }
        let first = try #require(log.firstIndex(where: isFlood))
        let last = try #require(log.lastIndex(where: isFlood))
        let window = log[first...last]
        #expect(window.filter(isFlood).count == 40)
        var inARow = 0, longestRun = 0
        for request in window {
            inARow = isFlood(request) ? inARow + 1 : 0
            longestRun = max(longestRun, inARow)
        }
        #expect(longestRun == 1, "pass-through requests ran back to back while polls were due")
        let unit2Polls = window.filter { $0.unit == 2 }.count
        #expect(unit2Polls >= 20, "unit 2 was polled \(unit2Polls) times during 40 pass-through reads")
    }

    @Test("A client that sends something other than Modbus TCP is disconnected, counted in the log; others go on")
    func garbageIsDisconnected() async throws {
        let fixture = try GatewayFixture(units: [1, 2], start: false)
        let serverPort = freePort()
        let logFile = fixture.folder.path + "/gateway.log"
        let gateway = try startGateway(fixture, serverPort: serverPort, log: logFile)
        defer { gateway.stop() }

        let socket = try Socket.connect(host: "127.0.0.1", port: serverPort, timeout: .seconds(5))
        try socket.writeAll(Array("GET / HTTP/1.1\r\nHost: gateway\r\n\r\n".utf8))
        #expect(try readToEnd(socket).isEmpty, "the server answered HTTP")

        // A well-behaved client is still served.
        let lines = try pymodbus(port: serverPort, ["read:1:0:2"])
        #expect(lines.first?["registers"] as? [Int] != nil, "\(lines)")
        let log = await logLines(logFile, containing: "bus_server_client_disconnected")
        #expect(log.contains { $0.contains("level=warning") && $0.contains("MBAP protocol id 21536") }, "\(log)")
        let all = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        #expect(all.contains("event=bus_server_listening bus=line address=tcp://127.0.0.1:\(serverPort) units=1 functions=3,4,6,16"))
    }

    @Test("A reload that changes only the server restarts the server alone: new address and allow-list, polling goes on")
    func reloadRestartsTheServerAlone() async throws {
        let fixture = try GatewayFixture(units: [1, 2], start: false)
        let (firstPort, secondPort) = (freePort(), freePort())
        let logFile = fixture.folder.path + "/gateway.log"
        let gateway = try startGateway(fixture, serverPort: firstPort, log: logFile)
        defer { gateway.stop() }
        #expect(try pymodbus(port: firstPort, ["write:1:12:5"]).first?["ok"] as? Bool == true)

        try writeConfig(fixture, server: #"{ "listen": "127.0.0.1:\#(secondPort)", "units": [1] }"#)
        kill(gateway.pid, SIGHUP)
        let reloaded = await logLines(logFile, containing: "event=reloaded")
        #expect(reloaded.first?.contains("buses_restarted=0") == true, "\(reloaded)")
        #expect(listens(secondPort))
        #expect(!acceptsConnections(port: firstPort), "the old server still listens")
        let stopped = await logLines(logFile, containing: "event=bus_server_stopped")
        #expect(stopped.first?.contains("reason=\"changed by a reload\"") == true, "\(stopped)")
        // Writing is not allowed any more (the default functions are the reads).
        let lines = try pymodbus(port: secondPort, ["read:1:12:1", "write:1:12:6"])
        #expect(lines.first?["registers"] as? [Int] == [5])
        #expect(lines.last?["exception"] as? Int == 0x01)
        // Polling goes on after the reload, on both units.
        let before = fixture.simulator.requests.count
        #expect(await eventually { fixture.simulator.requests.dropFirst(before).contains { $0.unit == 2 } })
        // The bus was not restarted: its line opened once.
        let all = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        #expect(all.components(separatedBy: "event=line_opened").count == 2, "\(all)")
    }

    // MARK: - Helpers

    /// `count` MBAP frames read from `socket` (bounded: 60 s in all).
    private func readFrames(_ count: Int, from socket: Socket) throws -> [MBAPFrame] {
        var framer = MBAPFramer(source: "server")
        var frames: [MBAPFrame] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while frames.count < count, ContinuousClock.now < deadline {
            guard try socket.wait(for: Int16(POLLIN), timeout: .milliseconds(500)) else { continue }
            let read = try buffer.withUnsafeMutableBytes { raw throws(Errno) in try socket.read(into: raw) }
            guard let read else { continue }
            guard read > 0 else { break }
            framer.append(buffer[0..<read])
            while let frame = try framer.next() { frames.append(frame) }
        }
        return frames
    }

    /// What the peer sends until it closes the connection (bounded: 10 s).
    private func readToEnd(_ socket: Socket) throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while ContinuousClock.now < deadline {
            guard try socket.wait(for: Int16(POLLIN), timeout: .milliseconds(500)) else { continue }
            let read = try buffer.withUnsafeMutableBytes { raw throws(Errno) in try socket.read(into: raw) }
            guard let read else { continue }
            if read == 0 { return received }
            received += buffer[0..<read]
        }
        Issue.record("the server kept the connection open")
        return received
    }

    /// The log's lines holding `text`, waiting (bounded) until there is one.
    private func logLines(_ file: String, containing text: String) async -> [String] {
        for _ in 0..<500 {
            let lines = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            let matching = lines.filter { $0.contains(text) }
            if !matching.isEmpty { return matching }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return []
    }
}
