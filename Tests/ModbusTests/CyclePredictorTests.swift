import Modbus
import Serial
import Testing

/// Figures worked by hand from Modbus over Serial Line V1.02: a character is 1 start bit, the
/// data bits, a parity bit if any and the stop bits (§2.5.1: 11 bits in RTU 8E1, 10 in ASCII
/// 7E1); t3.5 is 3.5 characters up to 19200 baud, 1.75 ms above (§2.5.1.1).
@Suite struct CyclePredictorTests {
    static let line9600 = SerialSettings(baudRate: .b9600, dataBits: .eight, parity: .even, stopBits: .one)
    static let line19200 = SerialSettings(baudRate: .b19200, dataBits: .eight, parity: .even, stopBits: .one)
    static let readTen = ModbusRequest.readHoldingRegisters(address: 0, count: 10)

    @Test func frameSizesByFunctionCode() {
        // Unit, function, address, count, CRC: 8 bytes; the answer adds a byte count and 2 bytes a register.
        #expect(CyclePredictor.requestBytes(Self.readTen) == 8)
        #expect(CyclePredictor.answerBytes(Self.readTen) == 25)
        // 10 coils fit 2 bytes: unit, function, byte count, 2 data, CRC.
        #expect(CyclePredictor.answerBytes(.readCoils(address: 0, count: 10)) == 7)
        #expect(CyclePredictor.requestBytes(.writeSingleRegister(address: 5, value: 1)) == 8)
        #expect(CyclePredictor.answerBytes(.writeSingleRegister(address: 5, value: 1)) == 8)
        // FC16 with 3 registers: unit, function, address, quantity, byte count, 6 data, CRC = 15.
        #expect(CyclePredictor.requestBytes(.writeMultipleRegisters(address: 0, values: [1, 2, 3])) == 15)
        #expect(CyclePredictor.answerBytes(.writeMultipleRegisters(address: 0, values: [1, 2, 3])) == 8)
    }

    @Test func readTenRegistersAt9600EvenParity() {
        let predictor = CyclePredictor(settings: Self.line9600)
        #expect(Self.line9600.bitsPerCharacter == 11)
        // 33 characters × 11 bits = 363 bits; at 9600 bit/s: 37.8125 ms.
        #expect(predictor.transmissionTime(characters: 33) == .nanoseconds(37_812_500))
        // t3.5 = 3.5 × 11 / 9600 s = 4.0104 ms (to the nanosecond, rounded down).
        #expect(predictor.endOfRequestGap == .nanoseconds(4_010_416))
        #expect(predictor.silence == .nanoseconds(4_010_416))
        // 37.8125 + t3.5 (the device sees the request end) + 5 (turnaround) + t3.5 (before the next request) = 50.8333 ms.
        let transaction = predictor.transaction(Self.readTen, unit: 1, turnaround: .milliseconds(5))
        #expect(transaction.requestCharacters == 8)
        #expect(transaction.answerCharacters == 25)
        #expect(transaction.duration == .nanoseconds(50_833_332))
        #expect(transaction.payloadBits == 160)
    }

    @Test func readTenRegistersAt19200EvenParity() {
        let predictor = CyclePredictor(settings: Self.line19200)
        // 363 bits at 19200 bit/s = 18.90625 ms; t3.5 = 38.5 / 19200 s = 2.0052 ms (19200 is not above 19200).
        let transaction = predictor.transaction(Self.readTen, unit: 1, turnaround: .milliseconds(5))
        #expect(transaction.duration == .nanoseconds(18_906_250 + 2 * 2_005_208 + 5_000_000))
    }

    @Test func aboveNineteenTwoHundredTheSilenceIsFixed() {
        let predictor = CyclePredictor(settings: SerialSettings(baudRate: .b38400, parity: .even))
        // 363 bits at 38400 = 9.453125 ms; t3.5 fixed at 1.75 ms (§2.5.1.1).
        #expect(predictor.transaction(Self.readTen, unit: 1, turnaround: .zero).duration == .nanoseconds(9_453_125 + 2 * 1_750_000))
    }

    @Test func asciiSendsTwoCharactersPerByteAndNeedsNoSilenceToEndARequest() {
        let line = SerialSettings(baudRate: .b9600, dataBits: .seven, parity: .even, stopBits: .one)
        let predictor = CyclePredictor(settings: line, framing: .ascii, silence: .zero)
        #expect(line.bitsPerCharacter == 10)
        // ':' + 2 × (unit, 5 PDU bytes, LRC) + CR LF = 17; the answer: ':' + 2 × (unit, function, count, 20, LRC) + CR LF = 51.
        let transaction = predictor.transaction(Self.readTen, unit: 1, turnaround: .milliseconds(5))
        #expect(transaction.requestCharacters == 17)
        #expect(transaction.answerCharacters == 51)
        // 68 × 10 bits at 9600 = 70.8333 ms, no end-of-request gap, 5 ms turnaround, no fixed silence.
        #expect(predictor.endOfRequestGap == .zero)
        #expect(transaction.duration == .nanoseconds(70_833_333 + 5_000_000))
    }

    @Test func modbusTCPHasNoBytePrediction() {
        #expect(CyclePredictor(configuration: BusConfiguration(target: .tcp(host: "127.0.0.1", port: 502))) == nil)
        #expect(CyclePredictor(configuration: BusConfiguration(target: .rtuOverTCP(host: "127.0.0.1", port: 4001))) == nil)
        let serial = CyclePredictor(configuration: BusConfiguration(target: .rtu(path: "/dev/ttyUSB0", settings: Self.line9600),
                                                                    silence: .fixed(.milliseconds(10))))
        #expect(serial?.silence == .milliseconds(10))
    }

    @Test func cycleAndUtilisation() {
        let predictor = CyclePredictor(settings: Self.line9600)
        let slow = CyclePredictor.PolledGroup(label: "a holding every 1s", unit: 1, interval: .seconds(1), requests: [Self.readTen],
                                              turnaround: .milliseconds(5))
        let fast = CyclePredictor.PolledGroup(label: "b holding every 200ms", unit: 2, interval: .milliseconds(200),
                                              requests: [Self.readTen, Self.readTen], turnaround: .milliseconds(5))
        let cycle = predictor.cycle([slow, fast])
        #expect(cycle.requests == 3)
        #expect(cycle.characters == 99)
        #expect(cycle.duration == .nanoseconds(3 * 50_833_332))
        #expect(cycle.shortestInterval == .milliseconds(200))
        // 50.83 / 1000 + 101.67 / 200 = 0.0508 + 0.5083 = 0.5592: the line keeps up.
        #expect(abs(cycle.utilisation - (0.050833332 + 0.101666664 / 0.2)) < 1e-9)
        #expect(cycle.lateGroups.isEmpty)
        // 480 data bits in 152.5 ms of a 9600 bit/s line: 32.8 %.
        #expect(abs(cycle.efficiency(baud: 9600) - 480 / (0.152499996 * 9600)) < 1e-9)
    }

    @Test func intervalsThatCannotBeMetNameTheGroupsPolledLate() {
        let predictor = CyclePredictor(settings: Self.line9600)
        let slow = CyclePredictor.PolledGroup(label: "a holding every 1s", unit: 1, interval: .seconds(1), requests: [Self.readTen])
        let fast = CyclePredictor.PolledGroup(label: "b holding every 50ms", unit: 2, interval: .milliseconds(50), requests: [Self.readTen])
        let cycle = predictor.cycle([slow, fast])
        // 50.83 ms every 50 ms alone is above 100 %.
        #expect(cycle.utilisation > 1)
        #expect(cycle.lateGroups.map(\.group.label) == ["b holding every 50ms"])
    }

    @Test func extraDelaysCountOnBothSidesOfAUnitsFrames() {
        let predictor = CyclePredictor(settings: Self.line9600, extraDelayByUnit: [2: .milliseconds(10)])
        let one = CyclePredictor.PolledGroup(label: "a", unit: 1, interval: .seconds(1), requests: [Self.readTen, Self.readTen], turnaround: .milliseconds(5))
        let two = CyclePredictor.PolledGroup(label: "b", unit: 2, interval: .seconds(1), requests: [Self.readTen], turnaround: .milliseconds(5))
        let cycle = predictor.cycle([one, two])
        // Unit 1 → unit 1: no extra; unit 1 → unit 2 and unit 2 → unit 1 (round again): 10 ms each.
        #expect(cycle.groups[0].duration == .nanoseconds(2 * 50_833_332 + 10_000_000))
        #expect(cycle.groups[1].duration == .nanoseconds(50_833_332 + 10_000_000))
        #expect(predictor.transaction(Self.readTen, unit: 2, turnaround: .milliseconds(5)).duration == .nanoseconds(60_833_332))
    }
}
