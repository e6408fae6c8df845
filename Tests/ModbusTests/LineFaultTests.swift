import Modbus
import Serial
import Synchronization
import TestSupport
import Testing

/// The line-faults probe: a device on a pty that answers wrong in every way a device, an
/// adapter or a noisy line does. Each fault must give its own typed error, and the poll after
/// it must read the device's registers.
@Suite("Line faults: each wrong answer is named, and the next poll is correct")
struct LineFaultTests {
    static let registers: [UInt16] = [215, 650, 1, 0x1234, 0xFFFF, 0, 7, 8, 9, 10]
    static let poll = ModbusRequest.readHoldingRegisters(address: 0, count: 10)

    struct Case: Sendable, CustomTestStringConvertible {
        let fault: SimulatedFault
        let kind: ModbusError.Kind?
        let phrase: String
        var testDescription: String { phrase }
    }

    static let cases: [Case] = [
        Case(fault: .garbage([0x5A, 0xC3, 0x11, 0x00, 0xFF, 0x42, 0x17]), kind: .crcMismatch, phrase: "CRC error"),
        Case(fault: .corruptChecksum, kind: .crcMismatch, phrase: "CRC error"),
        Case(fault: .answerFromUnit(7), kind: nil, phrase: "answer from unit 7 to a request for unit 1"),
        Case(fault: .answerWithFunction(4), kind: nil, phrase: "answer with function 04 to a request with function 03"),
        Case(fault: .answerWithFunction(6), kind: nil, phrase: "answer with function 06 to a request with function 03"),
        Case(fault: .answerWithFunction(0x84), kind: nil, phrase: "answer with function 84 to a request with function 03"),
        Case(fault: .byteCount(4), kind: nil, phrase: "byte count 4 where 10 registers need 20"),
        Case(fault: .byteCount(40), kind: nil, phrase: "byte count 40 where 10 registers need 20"),
        Case(fault: .truncatedAnswer, kind: nil, phrase: "truncated: 12 of 25 bytes"),
        Case(fault: .extraBytes([1, 2, 3]), kind: nil, phrase: "too long: 3 bytes after the frame"),
        Case(fault: .echo, kind: nil, phrase: "the request came back unchanged (an echo"),
        Case(fault: .exception(ModbusExceptionCode(rawValue: 0)), kind: .exception(ModbusExceptionCode(rawValue: 0)),
             phrase: "exception 00 (unknown exception)"),
        Case(fault: .exception(ModbusExceptionCode(rawValue: 0x2A)), kind: .exception(ModbusExceptionCode(rawValue: 0x2A)),
             phrase: "exception 2A (unknown exception)"),
    ]

    @Test("A wrong answer gives its own error, and the next poll reads the registers", arguments: cases)
    func fault(_ probe: Case) async throws {
        let bench = try RTUBench()
        bench.controller.setRegisters(.holdingRegisters, address: 0, Self.registers)
        bench.simulator.inject(probe.fault)
        do {
            let response = try await bench.bus.perform(Self.poll, unit: 1)
            Issue.record("the faulty answer was accepted: \(response)")
        } catch {
            if let kind = probe.kind {
                #expect(error.kind == kind)
            } else if case .invalidFrame = error.kind {
            } else {
                Issue.record("expected an invalid frame, got \(error)")
            }
            #expect(error.description.contains(probe.phrase), "\(error)")
            #expect(error.request == Self.poll.summary)
        }
        #expect(try await bench.bus.perform(Self.poll, unit: 1).registers == Self.registers)
        await bench.shutdown()
    }

    @Test("Stray bytes after a good answer are dropped and counted; the next poll is correct")
    func trailingBytes() async throws {
        let events = Mutex<[String]>([])
        let bench = try RTUBench(events: { event in
            if case let .strayBytes(count, _, unit, request) = event { events.withLock { $0.append("\(count) \(unit) \(request)") } }
        })
        bench.controller.setRegisters(.holdingRegisters, address: 0, Self.registers)
        bench.simulator.inject(.trailingBytes([0x01, 0x03]))
        #expect(try await bench.bus.perform(Self.poll, unit: 1).registers == Self.registers)
        #expect(try await bench.bus.perform(Self.poll, unit: 1).registers == Self.registers)
        #expect(try await bench.bus.perform(.readHoldingRegisters(address: 3, count: 1), unit: 1).registers == [0x1234])
        #expect(bench.bus.status.strayBytes == 2)
        #expect(bench.bus.status.failures == 0)
        #expect(events.withLock { $0 } == ["2 1 read holding registers 0+10"])
        // A device that keeps adding bytes is counted every time but reported at most once a
        // minute, so it cannot fill the log at its poll rate.
        for _ in 0..<3 {
            bench.simulator.inject(.trailingBytes([0x00]))
            #expect(try await bench.bus.perform(Self.poll, unit: 1).registers == Self.registers)
        }
        #expect(bench.bus.status.strayBytes == 5)
        #expect(events.withLock { $0 } == ["2 1 read holding registers 0+10"])
        await bench.shutdown()
    }

    @Test("Seeded random and mangled answers: every error typed, never an errno, and the bus recovers after each")
    func randomAnswers() async throws {
        // A short byte timeout: most of these answers end in one (the bytes stop before the
        // length their header announces); the response timeout is never waited, as bytes always come.
        let bench = try RTUBench { $0.byteTimeout = .milliseconds(5); $0.responseTimeout = .seconds(3) }
        bench.controller.setRegisters(.holdingRegisters, address: 0, Self.registers)
        let poll = ModbusRequest.readHoldingRegisters(address: 0, count: 4)
        var good: [UInt8] = [3, 8]
        for value in Self.registers.prefix(4) { good += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        let goodFrame = ModbusPDU.rtuFrame(unit: 1, pdu: good)
        var random = SplitMix64(seed: 0x13_0D_EF_EC_75)
        var kinds: [String: Int] = [:]
        for round in 0..<150 {
            var answer: [UInt8]
            switch round % 3 {
            case 0:
                answer = (0..<Int.random(in: 1...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1:
                // The good answer with one byte changed, cut, or bytes inserted.
                answer = goodFrame
                let position = Int.random(in: 0..<answer.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: answer[position] ^= UInt8.random(in: 1...255, using: &random)
                case 1: answer = Array(answer.prefix(max(1, position)))
                default: answer.insert(contentsOf: (0..<Int.random(in: 1...4, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) },
                                       at: position)
                }
            default:
                // The right unit and function, then anything.
                answer = [1, 3] + (0..<Int.random(in: 0...30, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            bench.simulator.inject(.garbage(answer))
            do {
                let response = try await bench.bus.perform(poll, unit: 1)
                // Only the good frame (perhaps with stray bytes after it) can pass its CRC and checks.
                #expect(response.registers == Array(Self.registers.prefix(4)), "round \(round): \(answer)")
            } catch {
                switch error.kind {
                case .crcMismatch: kinds["crc", default: 0] += 1
                case .invalidFrame: kinds["invalid", default: 0] += 1
                case .exception: kinds["exception", default: 0] += 1
                default: Issue.record("round \(round): \(answer) gave \(error)")
                }
                #expect(!error.description.contains("errno"), "round \(round): \(error)")
            }
            let next = try await bench.bus.perform(poll, unit: 1)
            #expect(next.registers == Array(Self.registers.prefix(4)), "round \(round): after \(answer)")
        }
        // The rounds reach both kinds of rejection, so the loop tests what it claims to.
        #expect(kinds["crc", default: 0] > 0 && kinds["invalid", default: 0] > 0, "\(kinds)")
        #expect(bench.bus.status.isOpen && bench.bus.status.opens == 1)
        await bench.shutdown()
    }
}
