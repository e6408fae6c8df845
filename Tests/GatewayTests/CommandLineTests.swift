import Foundation
import GatewayCore
import Modbus
import Testing
import TestSupport

/// Runs the built `modbridge` binary (it sits beside the test bundle in the build folder).
struct ModbridgeProcess {
    static var executable: String { modbridgeExecutable }

    struct Result {
        let status: Int32
        let output: String
        let error: String
    }

    /// Runs to completion (in `workingFolder`, if given); killed after 30 s so that a hang fails
    /// instead of blocking the suite.
    /// `input`, if given, is the program's standard input (a pipe, closed after it).
    static func run(_ arguments: [String], in workingFolder: String? = nil, input: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let workingFolder { process.currentDirectoryURL = URL(fileURLWithPath: workingFolder) }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(Data(input.utf8))
            try inputPipe.fileHandleForWriting.close()
        }
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return Result(status: process.terminationStatus,
                      output: String(decoding: outputData, as: UTF8.self),
                      error: String(decoding: errorData, as: UTF8.self))
    }
}

@Suite("modbridge command line")
struct CommandLineTests {
    static let line = ["/dev/modbridge-none", "--unit", "1", "--table", "holding", "--address", "0"]

    static let badArguments: [([String], String)] = [
        (["bogus"], "bogus"),
        (["read"] + line + ["--count", "126"], "--count"),
        (["read"] + line + ["--count", "63", "--type", "float32"], "--count"),
        (["read", "/dev/x", "--unit", "0", "--table", "holding", "--address", "0"], "--unit"),
        (["read", "/dev/x", "--unit", "248", "--table", "holding", "--address", "0"], "--unit"),
        (["read", "/dev/x", "--unit", "1", "--table", "holdings", "--address", "0"], "--table"),
        (["read", "/dev/x", "--unit", "1", "--table", "holding", "--address", "65536"], "--address"),
        (["read", "/dev/x", "--unit", "1", "--table", "coils", "--address", "0", "--type", "int16"], "--type"),
        (["read", "/dev/x", "--unit", "1", "--table", "holding", "--address", "65535", "--count", "2"], "--count"),
        (["read"] + line + ["--baud", "1234"], "--baud"),
        (["read"] + line + ["--parity", "mark"], "--parity"),
        (["read"] + line + ["--data-bits", "6"], "--data-bits"),
        (["read"] + line + ["--order", "abdc"], "--order"),
        (["read"] + line + ["--frobnicate"], "--frobnicate"),
        (["read"] + line + ["--unit", "2"], "--unit"),
        (["read", "--unit"], "--unit"),
        (["read", "ttyUSB0", "--unit", "1", "--table", "holding", "--address", "0"], "ttyUSB0"),
        (["read", "tcp://plc:0", "--unit", "1", "--table", "holding", "--address", "0"], "tcp://plc:0"),
        (["read", "--unit", "1", "--table", "holding", "--address", "0"], "<target>"),
        (["write", "/dev/x", "--unit", "1", "--table", "input", "--address", "0", "--value", "1"], "--table"),
        (["write", "/dev/x", "--unit", "1", "--table", "holding", "--address", "0", "--value", "70000"], "--value"),
        (["write", "/dev/x", "--unit", "1", "--table", "coils", "--address", "0", "--value", "2"], "--value"),
        (["write", "/dev/x", "--unit", "1", "--table", "holding", "--address", "0"], "--value"),
        (["write", "tcp://127.0.0.1:1502", "--unit", "0", "--table", "holding", "--address", "0", "--value", "1"], "--unit"),
        (["simulate", "--unit", "300"], "--unit"),
        (["simulate", "--tcp", "1502", "--link", "/tmp/x"], "--link"),
    ]

    @Test("Bad input exits 64 with a message naming the bad argument", arguments: badArguments)
    func badInput(arguments: [String], culprit: String) throws {
        let result = try ModbridgeProcess.run(arguments)
        #expect(result.status == 64)
        #expect(result.error.contains(culprit), "stderr: \(result.error)")
        #expect(result.output.isEmpty)
    }

    @Test("--help on every command exits 0 with its usage")
    func help() throws {
        for command in ["read", "write", "simulate"] {
            let result = try ModbridgeProcess.run([command, "--help"])
            #expect(result.status == 0)
            #expect(result.output.contains("Usage: modbridge \(command)"))
        }
        #expect(try ModbridgeProcess.run(["--help"]).output.contains("simulate"))
    }

    @Test("--version prints the version the Makefile packages")
    func version() throws {
        let result = try ModbridgeProcess.run(["--version"])
        #expect(result.status == 0 && result.output == "modbridge \(ModbridgeVersion.current)\n", "\(result.output)")
        // The Makefile's VERSION (the .deb's) is read from the same source line.
        let make = try ChildProcess("make", ["-s", "--no-print-directory", "-C", CheckCommandTests.repository, "print-version"])
        #expect(make.readLine() == ModbridgeVersion.current)
        #expect(make.waitForExit() == 0)
    }

    @Test("read prints each value with its address; write lands in the device")
    func readAndWrite() throws {
        let controller = SimulatedController(unit: 5, temperatureModel: false)
        let simulator = try ModbusSimulator.startRTU(controllers: [controller])
        defer { simulator.stop() }
        controller.setRegisters(.holdingRegisters, address: 100, [1, 65535, 0x42F6, 0xE979])
        let base = [simulator.address, "--unit", "5", "--baud", "19200"]

        let raw = try ModbridgeProcess.run(["read"] + base + ["--table", "holding", "--address", "100", "--count", "2"])
        #expect(raw.status == 0)
        #expect(raw.output == "[100]: 1\n[101]: 65535\n")
        let float = try ModbridgeProcess.run(["read"] + base + ["--table", "holding", "--address", "102", "--type", "float32"])
        #expect(float.output == "[102]: 123.456\n")
        let signed = try ModbridgeProcess.run(["read"] + base + ["--table", "holding", "--address", "100", "--count", "2", "--type", "int16"])
        #expect(signed.output == "[100]: 1\n[101]: -1\n")

        let write = try ModbridgeProcess.run(["write"] + base + ["--table", "holding", "--address", "10", "--value", "-2,7"])
        #expect(write.status == 0)
        #expect(controller.registers(.holdingRegisters, address: 10, count: 2) == [0xFFFE, 7])
        let floatWrite = try ModbridgeProcess.run(["write"] + base + ["--table", "holding", "--address", "20", "--value", "123.456", "--type", "float32", "--order", "cdab"])
        #expect(floatWrite.status == 0)
        #expect(controller.registers(.holdingRegisters, address: 20, count: 2) == [0xE979, 0x42F6])
        let coils = try ModbridgeProcess.run(["write"] + base + ["--table", "coils", "--address", "3", "--value", "on,off,1"])
        #expect(coils.status == 0)
        #expect(controller.bits(.coils, address: 3, count: 3) == [true, false, true])
        let coilRead = try ModbridgeProcess.run(["read"] + base + ["--table", "coils", "--address", "3", "--count", "3"])
        #expect(coilRead.output == "[3]: 1\n[4]: 0\n[5]: 1\n")
        // One value uses FC06 unless --multiple asks for FC16.
        _ = try ModbridgeProcess.run(["write"] + base + ["--table", "holding", "--address", "30", "--value", "9", "--multiple"])
        #expect(simulator.requests.last?.functionCode == 16)
    }

    @Test("A Modbus error exits 1 and says where")
    func modbusError() throws {
        let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1)])
        defer { simulator.stop() }
        simulator.inject(.exception(.serverDeviceBusy))
        let busy = try ModbridgeProcess.run(["read", simulator.address, "--unit", "1", "--table", "holding", "--address", "0"])
        #expect(busy.status == 1)
        #expect(busy.error.contains("unit 1 read holding registers 0+1: exception 06 (server device busy)"))

        let missing = try ModbridgeProcess.run(["read", "/dev/modbridge-none", "--unit", "1", "--table", "holding", "--address", "0"])
        #expect(missing.status == 1)
        #expect(missing.error.contains("/dev/modbridge-none"))
        #expect(missing.error.contains("ENOENT"))
    }

    @Test("simulate prints where to connect, serves, and stops cleanly on SIGTERM")
    func simulate() async throws {
        let folder = NSTemporaryDirectory() + "modbridge-sim-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let link = folder + "/tty"

        let process = Process()
        process.executableURL = URL(fileURLWithPath: ModbridgeProcess.executable)
        process.arguments = ["simulate", "--unit", "3", "--link", link]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let firstLine = output.fileHandleForReading.availableData
        #expect(String(decoding: firstLine, as: UTF8.self) == link + "\n")

        let bus = try Bus(BusConfiguration(target: .rtu(path: link, settings: .init())))
        let setPoint = try await bus.perform(.readHoldingRegisters(address: 0, count: 2), unit: 3)
        #expect(setPoint.registers == [650, 1])
        await bus.close()

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: link))
    }
}
