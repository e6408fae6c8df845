import Modbus
import POSIX
import Serial
import Testing
import TestSupport

/// The simulator keeping a real line's character times on a pty. Only lower bounds are
/// asserted: they come from the simulator's own waits, never from how busy the machine is
/// (the cycle bench measures the times themselves).
@Suite struct SimulatedLineTimingTests {
    static let line = SerialSettings(baudRate: .b9600, parity: .even, rs485: RS485Settings(mode: .off))

    @Test func anAnswerComesWholeAfterTheRequestTheSilenceTheTurnaroundAndItsOwnCharacters() throws {
        let timing = SimulatedLineTiming(settings: Self.line, turnaround: .milliseconds(5))
        let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1)], lineTiming: timing)
        defer { simulator.stop() }
        simulator.controller(unit: 1)?.setRegisters(.holdingRegisters, address: 0, [1234])
        let port = try SerialPort.open(path: simulator.address, settings: Self.line)
        defer { port.close() }
        let predictor = CyclePredictor(settings: Self.line)

        let request = ModbusPDU.rtuFrame(unit: 1, pdu: ModbusPDU.encode(.readHoldingRegisters(address: 0, count: 10)))
        #expect(request.count == 8)
        let sentAt = ContinuousClock.now
        try writeAll(port.fileDescriptor, request)
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64)
        while answer.count < 25 {
            let count = try port.read(into: &chunk, waitingAtMost: .seconds(5))
            if count == 0 { break }
            answer += chunk[0..<count]
        }
        let readAt = ContinuousClock.now

        // The whole answer, and nothing before it had its time on the line.
        #expect(answer.count == 25)
        #expect(ModbusPDU.hasValidCRC(answer[...]))
        #expect(Array(answer[0..<5]) == [1, 3, 20, 0x04, 0xD2])
        let requestTime = predictor.transmissionTime(characters: 8)
        let afterRequest = predictor.endOfRequestGap + .milliseconds(5) + predictor.transmissionTime(characters: 25)
        #expect(sentAt.duration(to: readAt) >= requestTime + afterRequest)
        let logged = try #require(simulator.requests.first)
        #expect(logged.receivedAt >= sentAt.advanced(by: requestTime))
        let answeredAt = try #require(logged.answeredAt)
        // Counted from the instant the request was received, which the log takes a little later.
        #expect(answeredAt >= sentAt.advanced(by: requestTime + afterRequest))
    }

    @Test func aBusOnTheLineGetsItsAnswersInOrder() async throws {
        let folder = TemporaryFolder()
        let timing = SimulatedLineTiming(settings: Self.line, turnaround: .milliseconds(2))
        let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1), SimulatedController(unit: 2)],
                                                     linkPath: folder.path + "/ttySIM", lineTiming: timing)
        simulator.controller(unit: 1)?.setRegisters(.holdingRegisters, address: 3, [11])
        simulator.controller(unit: 2)?.setRegisters(.holdingRegisters, address: 3, [22])
        let bus = try Bus(BusConfiguration(target: .rtu(path: simulator.address, settings: Self.line), responseTimeout: .seconds(2)))
        let first = try await bus.perform(.readHoldingRegisters(address: 3, count: 1), unit: 1)
        let second = try await bus.perform(.readHoldingRegisters(address: 3, count: 1), unit: 2)
        await bus.close()
        let requests = simulator.requests
        simulator.stop()
        #expect(first.registers == [11])
        #expect(second.registers == [22])
        #expect(requests.map(\.unit) == [1, 2])
        // The second request went out after the first answer and the master's t3.5.
        let firstAnswer = try #require(requests[0].answeredAt)
        let predictor = CyclePredictor(settings: Self.line)
        #expect(requests[1].receivedAt >= firstAnswer.advanced(by: predictor.silence + predictor.transmissionTime(characters: 8)))
    }
}
