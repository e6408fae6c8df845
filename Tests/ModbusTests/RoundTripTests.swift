import Modbus
import Serial
import TestSupport
import Testing

@Suite("Function codes over a pty against the simulated controller")
struct RoundTripTests {
    @Test("FC03 and FC04 read registers the simulator holds")
    func readRegisters() async throws {
        let bench = try RTUBench()
        defer { bench.simulator.stop() }
        bench.controller.setRegisters(.holdingRegisters, address: 100, (0..<125).map { UInt16($0 * 3 + 7) })
        bench.controller.setRegisters(.inputRegisters, address: 40, [0xBEEF, 0x0001])
        let holding = try await bench.bus.perform(.readHoldingRegisters(address: 100, count: 125), unit: 1)
        #expect(holding.registers == (0..<125).map { UInt16($0 * 3 + 7) })
        let input = try await bench.bus.perform(.readInputRegisters(address: 40, count: 2), unit: 1)
        #expect(input.registers == [0xBEEF, 0x0001])
        await bench.bus.close()
    }

    @Test("FC01 and FC02 read bits")
    func readBits() async throws {
        let bench = try RTUBench()
        defer { bench.simulator.stop() }
        let pattern = (0..<37).map { $0 % 3 == 0 }
        bench.controller.setBits(.coils, address: 20, pattern)
        bench.controller.setBits(.discreteInputs, address: 0, [true, false, true])
        #expect(try await bench.bus.perform(.readCoils(address: 20, count: 37), unit: 1).bits == pattern)
        #expect(try await bench.bus.perform(.readDiscreteInputs(address: 0, count: 3), unit: 1).bits == [true, false, true])
        await bench.bus.close()
    }

    @Test("FC05, FC06, FC15, FC16 write what the simulator then holds")
    func writes() async throws {
        let bench = try RTUBench()
        defer { bench.simulator.stop() }
        _ = try await bench.bus.perform(.writeSingleCoil(address: 7, value: true), unit: 1)
        #expect(bench.controller.bits(.coils, address: 7, count: 1) == [true])
        _ = try await bench.bus.perform(.writeSingleRegister(address: 9, value: 0xA55A), unit: 1)
        #expect(bench.controller.registers(.holdingRegisters, address: 9, count: 1) == [0xA55A])
        let bits = (0..<19).map { $0 % 2 == 1 }
        _ = try await bench.bus.perform(.writeMultipleCoils(address: 100, values: bits), unit: 1)
        #expect(bench.controller.bits(.coils, address: 100, count: 19) == bits)
        let values = (0..<123).map { UInt16(1000 + $0) }
        _ = try await bench.bus.perform(.writeMultipleRegisters(address: 200, values: values), unit: 1)
        #expect(bench.controller.registers(.holdingRegisters, address: 200, count: 123) == values)
        await bench.bus.close()
    }

    @Test("FC23 writes, then reads in one transaction")
    func readWrite() async throws {
        let bench = try RTUBench()
        defer { bench.simulator.stop() }
        bench.controller.setRegisters(.holdingRegisters, address: 10, [1, 2, 3])
        let answer = try await bench.bus.perform(
            .readWriteMultipleRegisters(readAddress: 10, readCount: 4, writeAddress: 11, values: [20, 30]), unit: 1)
        #expect(answer.registers == [1, 20, 30, 0])
        await bench.bus.close()
    }

    @Test("Request frames on the wire are the bytes the specification gives")
    func wireBytes() async throws {
        let bench = try RTUBench(units: [17])
        defer { bench.simulator.stop() }
        // Modbus Application Protocol, examples: read holding 108+3 on unit 0x11 → 11 03 00 6B 00 03 76 87.
        _ = try await bench.bus.perform(.readHoldingRegisters(address: 0x6B, count: 3), unit: 17)
        _ = try await bench.bus.perform(.writeSingleCoil(address: 0xAC, value: true), unit: 17)
        let frames = bench.simulator.requests.map(\.frame)
        #expect(frames == [[0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87],
                           [0x11, 0x05, 0x00, 0xAC, 0xFF, 0x00, 0x4E, 0x8B]])
        await bench.bus.close()
    }

    @Test("A broadcast write reaches every unit on the line and waits for no answer")
    func broadcast() async throws {
        let bench = try RTUBench(units: [1, 2])
        defer { bench.simulator.stop() }
        let answer = try await bench.bus.perform(.writeSingleRegister(address: 5, value: 77), unit: 0)
        #expect(answer == .written)
        #expect(await eventually { bench.simulator.requests.count == 1 })
        for unit: UInt8 in [1, 2] {
            #expect(bench.simulator.controller(unit: unit)?.registers(.holdingRegisters, address: 5, count: 1) == [77])
        }
        #expect(bench.simulator.answersSent == 0)
        await bench.bus.close()
    }

    @Test("Modbus TCP: reads and writes against the simulator on 127.0.0.1")
    func tcpRoundTrip() async throws {
        let controller = SimulatedController(unit: 3, temperatureModel: false)
        let simulator = try ModbusSimulator.startTCP(controllers: [controller])
        defer { simulator.stop() }
        guard case let .success(target) = ModbusTarget.parse(simulator.address) else {
            Issue.record("simulator address \(simulator.address) does not parse")
            return
        }
        let bus = try Bus(BusConfiguration(target: target))
        _ = try await bus.perform(.writeMultipleRegisters(address: 0, values: [11, 22, 33]), unit: 3)
        #expect(try await bus.perform(.readHoldingRegisters(address: 0, count: 3), unit: 3).registers == [11, 22, 33])
        _ = try await bus.perform(.writeMultipleCoils(address: 3, values: [true, true]), unit: 3)
        #expect(try await bus.perform(.readCoils(address: 2, count: 3), unit: 3).bits == [false, true, true])
        // A unit the TCP device does not serve: exception 0B, as a Modbus gateway answers.
        await #expect(throws: ModbusError.self) { _ = try await bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 9) }
        let frame = try #require(simulator.requests.first?.frame)
        // MBAP: protocol 0, length 13 (unit, FC, address, count, byte count, 6 data bytes), unit 3.
        #expect(frame[2...6] == [0, 0, 0, 13, 3])
        #expect(frame[7] == 16)
        await bus.close()
    }
}
