import Modbus
import Serial
import TestSupport
import Testing

@Suite("Modbus ASCII over a pty against the simulated controller")
struct ASCIITests {
    private func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    private func failure(of request: ModbusRequest = .readHoldingRegisters(address: 0, count: 2),
                         on bench: RTUBench) async -> ModbusError? {
        do {
            _ = try await bench.bus.perform(request, unit: 1)
            return nil
        } catch {
            return error
        }
    }

    @Test("Frames as worked out by hand from Modbus over Serial Line §2.5.2 and §6.2.1")
    func handWorkedFrames() {
        // 01 03 0000 0001: sum 05, LRC = -05 = FB.
        #expect(ASCIIFrame.encode(unit: 1, pdu: [0x03, 0x00, 0x00, 0x00, 0x01]) == text(":010300000001FB\r\n"))
        // 11 06 0001 0003: sum 1B, LRC = E5.
        #expect(ASCIIFrame.encode(unit: 0x11, pdu: [0x06, 0x00, 0x01, 0x00, 0x03]) == text(":110600010003E5\r\n"))
        #expect(ASCIIFrame.lrc([0x01, 0x03, 0x02, 0x00, 0x2A][...]) == 0xD0)
    }

    @Test("The request on the wire is the hand-worked frame, and the answer is read")
    func requestOnTheWire() async throws {
        let bench = try RTUBench(framing: .ascii)
        bench.controller.setRegisters(.holdingRegisters, address: 0, [0x002A])
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [0x002A])
        #expect(bench.simulator.requests.last?.frame == text(":010300000001FB\r\n"))
        await bench.shutdown()
    }

    @Test("Every function code round-trips, the values checked in the simulator's registers")
    func everyFunctionCode() async throws {
        let bench = try RTUBench(framing: .ascii)
        let controller = bench.controller
        controller.setRegisters(.holdingRegisters, address: 100, (0..<125).map { UInt16($0 * 3 + 7) })
        controller.setRegisters(.inputRegisters, address: 40, [0xBEEF, 0x0001])
        let pattern = (0..<37).map { $0 % 3 == 0 }
        controller.setBits(.coils, address: 20, pattern)
        controller.setBits(.discreteInputs, address: 0, [true, false, true])

        #expect(try await bench.bus.perform(.readCoils(address: 20, count: 37), unit: 1).bits == pattern)
        #expect(try await bench.bus.perform(.readDiscreteInputs(address: 0, count: 3), unit: 1).bits == [true, false, true])
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 100, count: 125), unit: 1).registers
            == (0..<125).map { UInt16($0 * 3 + 7) })
        #expect(try await bench.bus.perform(.readInputRegisters(address: 40, count: 2), unit: 1).registers == [0xBEEF, 0x0001])
        _ = try await bench.bus.perform(.writeSingleCoil(address: 7, value: true), unit: 1)
        #expect(controller.bits(.coils, address: 7, count: 1) == [true])
        _ = try await bench.bus.perform(.writeSingleRegister(address: 9, value: 0xA55A), unit: 1)
        #expect(controller.registers(.holdingRegisters, address: 9, count: 1) == [0xA55A])
        let bits = (0..<19).map { $0 % 2 == 1 }
        _ = try await bench.bus.perform(.writeMultipleCoils(address: 300, values: bits), unit: 1)
        #expect(controller.bits(.coils, address: 300, count: 19) == bits)
        let values = (0..<123).map { UInt16(1000 + $0) }
        _ = try await bench.bus.perform(.writeMultipleRegisters(address: 200, values: values), unit: 1)
        #expect(controller.registers(.holdingRegisters, address: 200, count: 123) == values)
        controller.setRegisters(.holdingRegisters, address: 10, [1, 2, 3])
        let answer = try await bench.bus.perform(
            .readWriteMultipleRegisters(readAddress: 10, readCount: 4, writeAddress: 11, values: [20, 30]), unit: 1)
        #expect(answer.registers == [1, 20, 30, 0])
        #expect(bench.simulator.requests.map(\.functionCode) == [1, 2, 3, 4, 5, 6, 15, 16, 23])
        #expect(bench.simulator.requests.allSatisfy { $0.frame.first == UInt8(ascii: ":") && $0.frame.suffix(2) == [13, 10] })
        await bench.shutdown()
    }

    @Test("A wrong LRC is an LRC error; the next transaction goes through")
    func badLRC() async throws {
        let bench = try RTUBench(framing: .ascii)
        bench.simulator.inject(.corruptChecksum)
        let error = try #require(await failure(on: bench))
        #expect(error.kind == .lrcMismatch)
        #expect(error.description.contains("LRC error"))
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 2), unit: 1).registers == [0, 0])
        await bench.shutdown()
    }

    @Test("A whole frame with too few data bytes for its byte count is truncated")
    func truncatedFrame() async throws {
        let bench = try RTUBench(framing: .ascii)
        // 01 03 04 002A: the byte count says 4, two came; LRC over these bytes: -(0x32) = CE.
        bench.simulator.inject(.garbage(text(":010304002ACE\r\n")))
        let error = try #require(await failure(on: bench))
        #expect(error.kind == .invalidFrame("truncated: 6 of 8 bytes"))
        await bench.shutdown()
    }

    @Test("A device that stops mid-frame trips the inter-character timeout: cut short, not a timeout")
    func interCharacterTimeout() async throws {
        let bench = try RTUBench(framing: .ascii) { $0.responseTimeout = .seconds(3) }
        bench.simulator.inject(.truncatedAnswer)
        let error = try #require(await failure(on: bench))
        guard case let .invalidFrame(detail) = error.kind else { Issue.record("got \(error)"); return }
        #expect(detail.contains("cut short"))
        #expect(detail.contains("inter-character timeout"))
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1).registers == [0])
        await bench.shutdown()
    }

    @Test("Bytes before ':' are dropped and counted as stray; the answer after them is taken")
    func garbageBeforeStart() async throws {
        let bench = try RTUBench(framing: .ascii)
        bench.controller.setRegisters(.holdingRegisters, address: 0, [7, 8])
        bench.simulator.inject(.leadingBytes([0x00, 0xFF, 0x41, 0x0D, 0x0A]))
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 2), unit: 1).registers == [7, 8])
        #expect(bench.bus.status.strayBytes == 5)
        await bench.shutdown()
    }

    @Test("A ':' inside a frame starts it again (§2.5.2.1)")
    func restartedFrame() async throws {
        let bench = try RTUBench(framing: .ascii)
        bench.controller.setRegisters(.holdingRegisters, address: 0, [7, 8])
        bench.simulator.inject(.leadingBytes(text(":0103")))
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 2), unit: 1).registers == [7, 8])
        #expect(bench.bus.status.strayBytes == 5)
        await bench.shutdown()
    }

    @Test("Non-hex characters and an odd number of digits are invalid frames")
    func malformedCharacters() async throws {
        let bench = try RTUBench(framing: .ascii)
        bench.simulator.inject(.garbage(text(":0103G2002A0000CE\r\n")))
        let nonHex = try #require(await failure(on: bench))
        #expect(nonHex.kind == .invalidFrame("character 'G' at position 5 after ':' is not a hex digit"))
        bench.simulator.inject(.garbage(text(":01030\r\n")))
        let odd = try #require(await failure(on: bench))
        #expect(odd.kind == .invalidFrame("odd number of hex digits (5) between ':' and CR LF"))
        await bench.shutdown()
    }

    @Test("Another unit's answer is refused by the check RTU answers get")
    func anotherUnit() async throws {
        let bench = try RTUBench(framing: .ascii)
        bench.simulator.inject(.answerFromUnit(9))
        let error = try #require(await failure(on: bench))
        #expect(error.kind == .invalidFrame("answer from unit 9 to a request for unit 1"))
        bench.simulator.inject(.exception(.illegalDataAddress))
        #expect(try #require(await failure(on: bench)).kind == .exception(.illegalDataAddress))
        await bench.shutdown()
    }
}
