import Foundation
import Modbus
import Serial
import Testing

/// A child process the test owns: killed and reaped when the test is done. (SIGKILL, because a
/// child started from a concurrency-pool thread inherits that thread's blocked signals, SIGTERM
/// among them.) Should the test run itself be killed, the peers end on their own: the pymodbus
/// script when it is orphaned, socat after `-T` seconds without traffic.
final class Peer {
    let process = Process()
    private let output = Pipe()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits for the peer to print `line` (bounded).
    func waitFor(line: String) -> Bool {
        var seen = ""
        let handle = output.fileHandleForReading
        for _ in 0..<100 {
            let data = handle.availableData
            if data.isEmpty { return false }
            seen += String(decoding: data, as: UTF8.self)
            if seen.contains(line) { return true }
        }
        return false
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Bounded wait for a condition that another process makes true.
func waitUntil(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}

/// A free TCP port on 127.0.0.1, found by binding port 0.
func freePort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
    return UInt16(bigEndian: address.sin_port)
}

@Suite("Interop with pymodbus, a Modbus server no one here wrote", .serialized)
struct PymodbusInteropTests {
    static let peerScript: String = {
        // Tests/InteropTests/<this file> → Tests/Peers/pymodbus_server.py
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/pymodbus_server.py").path
    }()

    /// Reads, writes and reads back through `bus` against unit 7 of the pymodbus image.
    private func exercise(_ bus: Bus) async throws {
        // The peer may still be opening its side: retry the first read until it answers.
        var first: ModbusResponse?
        for _ in 0..<100 where first == nil {
            first = try? await bus.perform(.readHoldingRegisters(address: 0, count: 10), unit: 7)
            if first == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(first?.registers == Array(0..<10))
        #expect(try await bus.perform(.readInputRegisters(address: 100, count: 3), unit: 7).registers == [1100, 1101, 1102])
        #expect(try await bus.perform(.readDiscreteInputs(address: 0, count: 4), unit: 7).bits == [false, true, false, true])
        #expect(try await bus.perform(.readHoldingRegisters(address: 50, count: 125), unit: 7).registers == Array(50..<175))

        _ = try await bus.perform(.writeSingleRegister(address: 3, value: 0xBEEF), unit: 7)
        _ = try await bus.perform(.writeMultipleRegisters(address: 20, values: [7, 8, 9]), unit: 7)
        #expect(try await bus.perform(.readHoldingRegisters(address: 2, count: 2), unit: 7).registers == [2, 0xBEEF])
        #expect(try await bus.perform(.readHoldingRegisters(address: 20, count: 3), unit: 7).registers == [7, 8, 9])
        _ = try await bus.perform(.writeSingleCoil(address: 1, value: true), unit: 7)
        _ = try await bus.perform(.writeMultipleCoils(address: 10, values: [true, false, true]), unit: 7)
        #expect(try await bus.perform(.readCoils(address: 0, count: 3), unit: 7).bits == [false, true, false])
        #expect(try await bus.perform(.readCoils(address: 10, count: 3), unit: 7).bits == [true, false, true])
        let readWrite = try await bus.perform(.readWriteMultipleRegisters(readAddress: 30, readCount: 2, writeAddress: 31, values: [555]), unit: 7)
        #expect(readWrite.registers == [30, 555])

        // pymodbus's own exception for an address outside its image.
        do {
            _ = try await bus.perform(.readHoldingRegisters(address: 1000, count: 1), unit: 7)
            Issue.record("a read outside the peer's image succeeded")
        } catch {
            #expect(error.kind == .exception(.illegalDataAddress))
        }
    }

    @Test("RTU: pymodbus on one end of a socat pty pair, the Bus on the other")
    func rtu() async throws {
        let folder = NSTemporaryDirectory() + "modbridge-interop-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ours = folder + "/master", theirs = folder + "/device"

        let socat = try Peer("socat", ["-T", "120", "pty,raw,echo=0,link=\(ours)", "pty,raw,echo=0,link=\(theirs)"])
        defer { socat.stop() }
        #expect(await waitUntil { FileManager.default.fileExists(atPath: ours) && FileManager.default.fileExists(atPath: theirs) })

        let server = try Peer("python3", [Self.peerScript, "--rtu", theirs, "--baud", "19200"])
        defer { server.stop() }
        #expect(server.waitFor(line: "ready"))

        let bus = try Bus(BusConfiguration(target: .rtu(path: ours, settings: SerialSettings(baudRate: .b19200)),
                                           responseTimeout: .milliseconds(1000)))
        try await exercise(bus)
        await bus.close()
    }

    @Test("TCP: pymodbus on 127.0.0.1")
    func tcp() async throws {
        let port = try freePort()
        let server = try Peer("python3", [Self.peerScript, "--tcp", String(port)])
        defer { server.stop() }
        #expect(server.waitFor(line: "ready"))
        let bus = try Bus(BusConfiguration(target: .tcp(host: "127.0.0.1", port: port), responseTimeout: .milliseconds(1000),
                                           initialReopenDelay: .milliseconds(50), maximumReopenDelay: .milliseconds(200)))
        try await exercise(bus)
        await bus.close()
    }
}
