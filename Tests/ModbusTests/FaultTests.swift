import Modbus
import Serial
import TestSupport
import Testing

@Suite("Injected faults map to the right error")
struct FaultTests {
    private func failure(of request: ModbusRequest = .readHoldingRegisters(address: 0, count: 10),
                         on bench: RTUBench, unit: UInt8 = 1) async -> ModbusError? {
        do {
            _ = try await bench.bus.perform(request, unit: unit)
            return nil
        } catch {
            return error
        }
    }

    @Test("No answer is a timeout, naming the line, unit and request")
    func noAnswer() async throws {
        let bench = try RTUBench()
        bench.simulator.inject(.noAnswer)
        let error = try #require(await failure(on: bench))
        #expect(error.kind == .timeout)
        #expect(error.unit == 1)
        #expect(error.request == "read holding registers 0+10")
        #expect(error.description.contains(bench.simulator.address))
        // The next transaction goes through.
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [0])
        await bench.shutdown()
    }

    @Test("A late answer is a timeout, and it is not taken for the next answer")
    func lateAnswer() async throws {
        let bench = try RTUBench()
        bench.controller.setRegisters(.holdingRegisters, address: 0, [1, 2, 3])
        bench.controller.setRegisters(.holdingRegisters, address: 50, [9])
        bench.simulator.inject(.lateAnswer(.milliseconds(450)))
        let error = try #require(await failure(of: .readHoldingRegisters(address: 0, count: 3), on: bench))
        #expect(error.kind == .timeout)
        // Wait until the late answer is on the line, then ask something else.
        #expect(await eventually { bench.simulator.answersSent == 1 })
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 50, count: 1), unit: 1).registers == [9])
        await bench.shutdown()
    }

    @Test("A bad CRC is a CRC error")
    func badCRC() async throws {
        let bench = try RTUBench()
        bench.simulator.inject(.corruptChecksum)
        let error = try #require(await failure(on: bench))
        #expect(error.kind == .crcMismatch)
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 2), unit: 1).registers == [0, 0])
        await bench.shutdown()
    }

    @Test("A truncated answer is an invalid frame, not a timeout")
    func truncated() async throws {
        // A long response timeout: the cut-short answer is told apart by stopping well before it.
        let bench = try RTUBench { $0.responseTimeout = .seconds(3) }
        bench.simulator.inject(.truncatedAnswer)
        let error = try #require(await failure(on: bench))
        guard case .invalidFrame = error.kind else {
            Issue.record("expected an invalid frame, got \(error)")
            return
        }
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 2), unit: 1).registers == [0, 0])
        await bench.shutdown()
    }

    @Test("Each exception code arrives with its code and name",
          arguments: [(UInt8(1), "illegal function"), (2, "illegal data address"), (3, "illegal data value"),
                      (4, "server device failure"), (6, "server device busy"), (0x0B, "gateway target device failed to respond")])
    func exception(code: UInt8, name: String) async throws {
        let bench = try RTUBench()
        bench.simulator.inject(.exception(ModbusExceptionCode(rawValue: code)))
        let error = try #require(await failure(of: .writeSingleRegister(address: 3, value: 1), on: bench))
        #expect(error.kind == .exception(ModbusExceptionCode(rawValue: code)))
        #expect(error.description.contains(name))
        await bench.shutdown()
    }

    @Test("A real exception from the device: address past the end of its table")
    func realException() async throws {
        let bench = try RTUBench()
        let error = try #require(await failure(of: .readHoldingRegisters(address: UInt16(SimulatedController.tableSize - 1), count: 2), on: bench))
        #expect(error.kind == .exception(.illegalDataAddress))
        await bench.shutdown()
    }

    @Test("A unit that is not on the line times out; its neighbour still answers")
    func absentUnit() async throws {
        let bench = try RTUBench(units: [1])
        let error = try #require(await failure(on: bench, unit: 2))
        #expect(error.kind == .timeout)
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [0])
        await bench.shutdown()
    }

    @Test("The line goes away and comes back: the bus reopens it without a restart")
    func lineReopened() async throws {
        let bench = try RTUBench()
        bench.controller.setRegisters(.holdingRegisters, address: 0, [42])
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [42])
        #expect(bench.bus.status.opens == 1)

        try await bench.simulator.unplug()
        let lost = try #require(await failure(on: bench))
        #expect(lost.isLinkFailure)
        // While the line is missing, requests fail fast with the reason.
        let whileAway = try #require(await failure(on: bench))
        #expect(whileAway.isLinkFailure)
        #expect(bench.bus.status.isOpen == false)

        try await bench.simulator.replug()
        #expect(await eventually { bench.bus.status.isOpen })
        #expect(bench.bus.status.opens == 2)
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [42])
        await bench.shutdown()
    }

    @Test("Modbus TCP: the endpoint goes away and comes back")
    func tcpReconnected() async throws {
        let simulator = try ModbusSimulator.startTCP(controllers: [SimulatedController(unit: 1, temperatureModel: false)])
        defer { simulator.stop() }
        guard case let .success(target) = ModbusTarget.parse(simulator.address) else { Issue.record("bad address"); return }
        let bus = try Bus(BusConfiguration(target: target, responseTimeout: .milliseconds(300), initialReopenDelay: .milliseconds(20)))
        _ = try await bus.perform(.writeSingleRegister(address: 1, value: 5), unit: 1)
        try await simulator.unplug()
        await #expect(throws: ModbusError.self) { _ = try await bus.perform(.readHoldingRegisters(address: 1, count: 1), unit: 1) }
        try await simulator.replug()
        #expect(await eventually { bus.status.isOpen })
        #expect(try await bus.perform(.readHoldingRegisters(address: 1, count: 1), unit: 1).registers == [5])
        await bus.close()
    }

    @Test("A TCP answer with a bad header is an invalid frame")
    func tcpCorruptHeader() async throws {
        let simulator = try ModbusSimulator.startTCP(controllers: [SimulatedController(unit: 1, temperatureModel: false)])
        defer { simulator.stop() }
        guard case let .success(target) = ModbusTarget.parse(simulator.address) else { Issue.record("bad address"); return }
        let bus = try Bus(BusConfiguration(target: target))
        simulator.inject(.corruptChecksum)
        do {
            _ = try await bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1)
            Issue.record("a corrupt answer was accepted")
        } catch {
            guard case .invalidFrame = error.kind else { Issue.record("expected an invalid frame, got \(error)"); return }
        }
        await bus.close()
    }

    @Test("Exception code 00 over RTU is an exception, not libmodbus's errno 112345678")
    func exceptionCodeZero() async throws {
        let bench = try RTUBench()
        bench.simulator.inject(.exception(ModbusExceptionCode(rawValue: 0)))
        let error = try #require(await failure(on: bench))
        #expect(error.kind == .exception(ModbusExceptionCode(rawValue: 0)))
        #expect(error.description.hasSuffix("read holding registers 0+10: exception 00 (unknown exception)"))
        await bench.shutdown()
    }

    @Test("Modbus TCP (libmodbus reads the answer): exception 00 and an undefined code are typed errors",
          arguments: [(UInt8(0), "exception 00 (unknown exception)"), (0x2A, "exception code above 0B")])
    func tcpExceptionCodes(code: UInt8, phrase: String) async throws {
        let simulator = try ModbusSimulator.startTCP(controllers: [SimulatedController(unit: 1, temperatureModel: false)])
        defer { simulator.stop() }
        guard case let .success(target) = ModbusTarget.parse(simulator.address) else { Issue.record("bad address"); return }
        let bus = try Bus(BusConfiguration(target: target))
        simulator.inject(.exception(ModbusExceptionCode(rawValue: code)))
        do {
            _ = try await bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1)
            Issue.record("an exception answer was accepted")
        } catch {
            if case .io = error.kind { Issue.record("an I/O error: \(error)") }
            #expect(error.description.contains(phrase), "\(error)")
        }
        #expect(try await bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [0])
        await bus.close()
    }
}
