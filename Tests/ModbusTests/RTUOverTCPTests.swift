import Modbus
import Serial
import TestSupport
import Testing

@Suite("RTU over TCP against the simulator's device server")
struct RTUOverTCPTests {
    private struct Bench {
        let simulator: ModbusSimulator
        let controller = SimulatedController(unit: 1, temperatureModel: false)
        let bus: Bus

        init() throws {
            simulator = try ModbusSimulator.startRTUOverTCP(controllers: [controller])
            guard case let .success(target) = ModbusTarget.parse(simulator.address) else { throw ModbusError(.invalidRequest("bad address"), target: "") }
            bus = try Bus(BusConfiguration(target: target, responseTimeout: .milliseconds(300), byteTimeout: .milliseconds(50),
                                           initialReopenDelay: .milliseconds(20), maximumReopenDelay: .milliseconds(200)))
        }

        func shutdown() async {
            await bus.close()
            simulator.stop()
        }
    }

    @Test("Reads and writes round-trip as RTU frames with their CRC on the socket")
    func roundTrips() async throws {
        let bench = try Bench()
        #expect(bench.simulator.address.hasPrefix("rtu+tcp://127.0.0.1:"))
        bench.controller.setRegisters(.holdingRegisters, address: 0, [0x002A])
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [0x002A])
        // 01 03 0000 0001 and its CRC (84 0A, low byte first).
        #expect(bench.simulator.requests.last?.frame == [0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A])
        _ = try await bench.bus.perform(.writeMultipleRegisters(address: 10, values: [1, 2, 3]), unit: 1)
        #expect(bench.controller.registers(.holdingRegisters, address: 10, count: 3) == [1, 2, 3])
        _ = try await bench.bus.perform(.writeSingleCoil(address: 4, value: true), unit: 1)
        #expect(try await bench.bus.perform(.readCoils(address: 0, count: 8), unit: 1).bits == [false, false, false, false, true, false, false, false])
        let answer = try await bench.bus.perform(.readWriteMultipleRegisters(readAddress: 10, readCount: 3, writeAddress: 12, values: [9]), unit: 1)
        #expect(answer.registers == [1, 2, 9])
        await bench.shutdown()
    }

    @Test("A bad CRC is a CRC error, and the line stays in step")
    func badCRC() async throws {
        let bench = try Bench()
        bench.simulator.inject(.corruptChecksum)
        await #expect(throws: ModbusError(.crcMismatch, target: bench.simulator.address, unit: 1, request: "read holding registers 0+2")) {
            _ = try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 2), unit: 1)
        }
        bench.controller.setRegisters(.holdingRegisters, address: 5, [55])
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 5, count: 1), unit: 1).registers == [55])
        #expect(bench.bus.status.opens == 1)
        await bench.shutdown()
    }

    @Test("A late answer is a timeout, drained before the next request and not taken for its answer")
    func lateAnswer() async throws {
        let bench = try Bench()
        bench.controller.setRegisters(.holdingRegisters, address: 0, [1, 2, 3])
        bench.controller.setRegisters(.holdingRegisters, address: 50, [9])
        bench.simulator.inject(.lateAnswer(.milliseconds(400)))
        let late = await #expect(throws: ModbusError.self) { _ = try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 3), unit: 1) }
        #expect(late?.kind == .timeout)
        #expect(await eventually { bench.simulator.answersSent == 1 })
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 50, count: 1), unit: 1).registers == [9])
        #expect(bench.bus.status.strayBytes == 11)  // the late answer: 5 + 2 × 3 bytes
        await bench.shutdown()
    }

    @Test("An answer cut short is an invalid frame, not a timeout")
    func truncated() async throws {
        let bench = try Bench()
        bench.simulator.inject(.truncatedAnswer)
        let error = await #expect(throws: ModbusError.self) { _ = try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 4), unit: 1) }
        #expect(error?.kind == .invalidFrame("truncated: 6 of 13 bytes"))
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [0])
        await bench.shutdown()
    }

    @Test("The device server drops the connection: a link failure, then a reconnect")
    func reconnect() async throws {
        let bench = try Bench()
        _ = try await bench.bus.perform(.writeSingleRegister(address: 1, value: 5), unit: 1)
        try await bench.simulator.unplug()
        let lost = await #expect(throws: ModbusError.self) { _ = try await bench.bus.perform(.readHoldingRegisters(address: 1, count: 1), unit: 1) }
        #expect(lost?.isLinkFailure == true)
        try await bench.simulator.replug()
        #expect(await eventually { bench.bus.status.isOpen })
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 1, count: 1), unit: 1).registers == [5])
        #expect(bench.bus.status.opens == 2)
        await bench.shutdown()
    }
}
