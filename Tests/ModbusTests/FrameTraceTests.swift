import Modbus
import Serial
import Synchronization
import Testing
import TestSupport

/// The lines a trace handed its sink, kept for a test.
final class TraceLines: Sendable {
    private let lines = Mutex<[FrameTrace.Line]>([])

    func trace(on: Bool = true, linesPerSecond: Int = 50, origin: ContinuousClock.Instant = .now) -> FrameTrace {
        FrameTrace(on: on, linesPerSecond: linesPerSecond, origin: origin) { line in self.lines.withLock { $0.append(line) } }
    }

    var all: [FrameTrace.Line] { lines.withLock { $0 } }

    var exchanges: [FrameExchange] {
        all.compactMap { if case let .frame(exchange, _) = $0 { return exchange } else { return nil } }
    }

    var suppressed: [Int] {
        all.compactMap { if case let .suppressed(count) = $0 { return count } else { return nil } }
    }
}

@Suite("Frame trace")
struct FrameTraceTests {
    private func exchange(at instant: ContinuousClock.Instant, unit: UInt8 = 1) -> FrameExchange {
        FrameExchange(unit: unit, functionCode: 3, request: [unit, 3, 0, 0, 0, 1], answer: [], startedAt: instant, endedAt: instant,
                      outcome: "timeout")
    }

    @Test("At most linesPerSecond lines a second; the rest are counted in one trace_suppressed line")
    func rateBound() {
        let lines = TraceLines()
        let start = ContinuousClock.now
        let trace = lines.trace(origin: start)
        // 120 exchanges within the first second, then one 1.5 s in.
        for index in 0..<120 { trace.record(exchange(at: start.advanced(by: .milliseconds(index * 5)))) }
        #expect(lines.exchanges.count == 50)
        #expect(lines.suppressed.isEmpty)
        trace.record(exchange(at: start.advanced(by: .milliseconds(1500)), unit: 9))
        #expect(lines.suppressed == [70])
        #expect(lines.exchanges.count == 51)
        #expect(lines.exchanges.last?.unit == 9)
        // A second full window, then flush() reports what it held back.
        for index in 0..<60 { trace.record(exchange(at: start.advanced(by: .milliseconds(1600 + index)))) }
        #expect(lines.exchanges.count == 51 + 49)
        trace.flush()
        #expect(lines.suppressed == [70, 11])
    }

    @Test("A timed trace switches itself off, and says so; off traces nothing")
    func timedSwitch() {
        let lines = TraceLines()
        let start = ContinuousClock.now
        let trace = lines.trace(on: false, origin: start)
        trace.record(exchange(at: start))
        #expect(lines.exchanges.isEmpty)
        trace.switchOn(true, for: .seconds(10), now: start)
        trace.record(exchange(at: start.advanced(by: .seconds(5))))
        #expect(lines.exchanges.count == 1)
        trace.record(exchange(at: start.advanced(by: .seconds(11))))
        #expect(lines.exchanges.count == 1)
        #expect(!trace.isOn(at: start.advanced(by: .seconds(12))))
        let switches = lines.all.compactMap { line -> Bool? in
            if case let .switched(on, _) = line { return on } else { return nil }
        }
        #expect(switches == [true, false])
    }

    @Test("RTU: the trace holds the exact request and answer frames, exceptions too")
    func rtuBytes() async throws {
        let lines = TraceLines()
        let folder = TemporaryFolder()
        let controller = SimulatedController(unit: 4)
        let simulator = try ModbusSimulator.startRTU(controllers: [controller], linkPath: folder.path + "/ttySIM")
        defer { simulator.stop() }
        let bus = try Bus(BusConfiguration(target: .rtu(path: simulator.address, settings: SerialSettings(baudRate: .b115200)),
                                           responseTimeout: .milliseconds(500)), trace: lines.trace())
        let registers = try await bus.perform(.readHoldingRegisters(address: 0, count: 3), unit: 4).registers ?? []
        #expect(registers.count == 3)
        await #expect(throws: ModbusError.self) { try await bus.perform(.readHoldingRegisters(address: 20000, count: 1), unit: 4) }
        await bus.close()

        let traced = lines.exchanges
        #expect(traced.count == 2)
        #expect(traced.first?.request == ModbusPDU.rtuFrame(unit: 4, pdu: [0x03, 0x00, 0x00, 0x00, 0x03]))
        var answerPDU: [UInt8] = [0x03, 0x06]
        for register in registers { answerPDU += [UInt8(register >> 8), UInt8(register & 0xFF)] }
        #expect(traced.first?.answer == ModbusPDU.rtuFrame(unit: 4, pdu: answerPDU))
        #expect(traced.first?.outcome == "ok")
        #expect(traced.first?.level == .adu)
        #expect(traced.last?.request == ModbusPDU.rtuFrame(unit: 4, pdu: [0x03, 0x4E, 0x20, 0x00, 0x01]))
        #expect(traced.last?.answer == ModbusPDU.rtuFrame(unit: 4, pdu: [0x83, 0x02]))
        #expect(traced.last?.outcome == "exception 02")
        // What went on the wire is what the simulator received.
        #expect(simulator.requests.map(\.frame) == traced.map(\.request))
    }

    @Test("Modbus TCP: the trace is at PDU level, the answer rebuilt from what libmodbus decoded")
    func tcpPDU() async throws {
        let lines = TraceLines()
        let simulator = try ModbusSimulator.startTCP(controllers: [SimulatedController(unit: 2)])
        defer { simulator.stop() }
        guard case let .success(target) = ModbusTarget.parse(simulator.address) else { Issue.record("bad address"); return }
        let bus = try Bus(BusConfiguration(target: target, responseTimeout: .milliseconds(500)), trace: lines.trace())
        _ = try await bus.perform(.writeSingleRegister(address: 100, value: 0x1234), unit: 2)
        let registers = try await bus.perform(.readHoldingRegisters(address: 100, count: 1), unit: 2).registers
        #expect(registers == [0x1234])
        await bus.close()
        let traced = lines.exchanges
        #expect(traced.map(\.level) == [.pdu, .pdu])
        #expect(traced.first?.request == [2, 0x06, 0x00, 0x64, 0x12, 0x34])
        #expect(traced.first?.answer == [2, 0x06, 0x00, 0x64, 0x12, 0x34])
        #expect(traced.last?.request == [2, 0x03, 0x00, 0x64, 0x00, 0x01])
        #expect(traced.last?.answer == [2, 0x03, 0x02, 0x12, 0x34])
    }

    @Test("A simulator with its own line settings answers only a master at those settings")
    func simulatorLineSettings() async throws {
        let folder = TemporaryFolder()
        let own = SerialSettings(baudRate: .b19200, parity: .odd)
        let received = TraceLines()
        let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1)], linkPath: folder.path + "/ttySIM",
                                                     lineSettings: own, trace: received.trace())
        defer { simulator.stop() }
        func read(_ settings: SerialSettings) async -> Result<ModbusResponse, ModbusError> {
            let bus: Bus
            do {
                bus = try Bus(BusConfiguration(target: .rtu(path: simulator.address, settings: settings),
                                               responseTimeout: .milliseconds(200)))
            } catch {
                return .failure(error)
            }
            let result: Result<ModbusResponse, ModbusError>
            do {
                result = .success(try await bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1))
            } catch {
                result = .failure(error)
            }
            await bus.close()
            return result
        }
        for wrong in [SerialSettings(baudRate: .b9600, parity: .odd), SerialSettings(baudRate: .b19200, parity: .none),
                      SerialSettings(baudRate: .b19200, parity: .even)] {
            guard case let .failure(error) = await read(wrong) else { Issue.record("answered at \(wrong)"); continue }
            #expect(error.kind == .timeout)
        }
        guard case .success = await read(own) else { Issue.record("no answer at its own settings"); return }
        #expect(received.exchanges.map(\.outcome) == ["ignored", "ignored", "ignored", "ok"])
    }
}
