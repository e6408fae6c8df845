import Foundation
import Modbus
import Serial
import TestSupport
import Testing

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
        let folder = TemporaryFolder()
        let peer = try await PymodbusRTUPeer(folder: folder)
        defer { peer.stop() }
        let bus = try Bus(BusConfiguration(target: .rtu(path: peer.path, settings: SerialSettings(baudRate: .b19200)),
                                           responseTimeout: .milliseconds(1000)))
        try await exercise(bus)
        await bus.close()
    }

    @Test("ASCII: pymodbus's ASCII framer on one end of a socat pty pair, the Bus on the other")
    func ascii() async throws {
        let folder = TemporaryFolder()
        let peer = try await PymodbusRTUPeer(folder: folder, framer: "ascii")
        defer { peer.stop() }
        let bus = try Bus(BusConfiguration(target: .rtu(path: peer.path, settings: SerialSettings(baudRate: .b19200)), framing: .ascii,
                                           responseTimeout: .milliseconds(1000)))
        try await exercise(bus)
        await bus.close()
    }

    @Test("RTU over TCP: pymodbus's TCP server with the RTU framer, as a device server")
    func rtuOverTCP() async throws {
        let port = freePort()
        let server = try ChildProcess("python3", [Self.peerScript, "--rtu-tcp", String(port)])
        defer { server.stop() }
        #expect(server.readLine() == "ready")
        let bus = try Bus(BusConfiguration(target: .rtuOverTCP(host: "127.0.0.1", port: port), responseTimeout: .milliseconds(1000),
                                           initialReopenDelay: .milliseconds(50), maximumReopenDelay: .milliseconds(200)))
        try await exercise(bus)
        await bus.close()
    }

    @Test("TCP: pymodbus on 127.0.0.1")
    func tcp() async throws {
        let port = freePort()
        let server = try ChildProcess("python3", [Self.peerScript, "--tcp", String(port)])
        defer { server.stop() }
        #expect(server.readLine() == "ready")
        let bus = try Bus(BusConfiguration(target: .tcp(host: "127.0.0.1", port: port), responseTimeout: .milliseconds(1000),
                                           initialReopenDelay: .milliseconds(50), maximumReopenDelay: .milliseconds(200)))
        try await exercise(bus)
        await bus.close()
    }
}

/// pymodbus serving RTU or ASCII (`framer`; 19200 baud, unit 7) on one end of a socat pty pair;
/// `path` is the other end, for the side under test. Stop it when done.
struct PymodbusRTUPeer {
    let path: String
    private let socat: ChildProcess
    private let server: ChildProcess

    init(folder: TemporaryFolder, framer: String = "rtu") async throws {
        path = folder.path + "/master"
        let theirs = folder.path + "/device"
        socat = try ChildProcess("socat", ["pty,raw,echo=0,link=\(path)", "pty,raw,echo=0,link=\(theirs)"])
        let path = path
        #expect(await eventually { FileManager.default.fileExists(atPath: path) && FileManager.default.fileExists(atPath: theirs) })
        server = try ChildProcess("python3", [PymodbusInteropTests.peerScript, "--rtu", theirs, "--baud", "19200", "--framer", framer])
        #expect(server.readLine() == "ready")
    }

    func stop() {
        server.stop()
        socat.stop()
    }
}
