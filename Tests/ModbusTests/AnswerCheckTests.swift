import Glibc
import POSIX
@testable import Modbus
import Testing

/// The pure parts of reading an answer: libmodbus's error numbers, and the check of RTU answer bytes.
@Suite("Answer checks: libmodbus error numbers and RTU answer bytes")
struct AnswerCheckTests {
    @Test("Every libmodbus error number maps to the error it means, none to an I/O error")
    func everyLibmodbusNumber() {
        let range = ModbusConnection.libmodbusErrnoRange
        #expect(range.count == 18)  // MODBUS_ENOBASE + 0 through EMBBADSLAVE (libmodbus 3.1)
        for code in range.lowerBound...(range.upperBound + 5) {
            let kind = ModbusConnection.kind(errno: code, elapsed: .seconds(1), responseTimeout: .milliseconds(500))
            #expect(ModbusConnection.libmodbusKind(errno: code) == kind)
            if case .io = kind { Issue.record("libmodbus code \(code - range.lowerBound) became \(kind)") }
        }
        let base = range.lowerBound
        // Exception code 0: libmodbus sets MODBUS_ENOBASE + 0, the number users saw as errno 112345678.
        #expect(ModbusConnection.libmodbusKind(errno: base) == .exception(ModbusExceptionCode(rawValue: 0)))
        for code in UInt8(1)...11 {
            #expect(ModbusConnection.libmodbusKind(errno: base + Int32(code)) == .exception(ModbusExceptionCode(rawValue: code)))
        }
        #expect(ModbusConnection.libmodbusKind(errno: base + 12) == .crcMismatch)  // EMBBADCRC
        #expect(ModbusConnection.libmodbusKind(errno: base + 13) == .invalidFrame("answer does not match the request (length, function or values)"))
        #expect(ModbusConnection.libmodbusKind(errno: base + 16) == .invalidRequest("too many values for one request"))  // EMBMDATA
        #expect(ModbusConnection.libmodbusKind(errno: base + 17) == .invalidFrame("answer from another unit"))  // EMBBADSLAVE
        // A system errno stays one.
        #expect(ModbusConnection.kind(errno: EIO, elapsed: .zero, responseTimeout: .seconds(1)) == .io(Errno(rawValue: EIO)))
        #expect(ModbusConnection.libmodbusKind(errno: EIO) == nil)
    }

    static let read = ModbusRequest.readHoldingRegisters(address: 0, count: 2)
    static let good = ModbusPDU.rtuFrame(unit: 1, pdu: [3, 4, 0x00, 0xD7, 0x02, 0x8A])

    static func verdict(_ bytes: [UInt8], _ request: ModbusRequest = read) -> RTUAnswer.Verdict {
        RTUAnswer.check(bytes, request: request, unit: 1, sent: [1] + ModbusPDU.encode(request))
    }

    static func detail(_ bytes: [UInt8], _ request: ModbusRequest = read) -> String {
        if case let .rejected(.invalidFrame(detail)) = verdict(bytes, request) { return detail }
        return "\(verdict(bytes, request))"
    }

    @Test("A good answer is decoded; bytes after it are counted as stray")
    func goodAnswer() {
        #expect(Self.verdict(Self.good) == .accepted(.registers([215, 650]), strayBytes: 0))
        #expect(Self.verdict(Self.good + [0x01, 0x03]) == .accepted(.registers([215, 650]), strayBytes: 2))
        let coils = ModbusPDU.rtuFrame(unit: 1, pdu: [1, 2, 0b1010_0101, 0b1])
        #expect(Self.verdict(coils, .readCoils(address: 0, count: 9))
                == .accepted(.bits([true, false, true, false, false, true, false, true, true]), strayBytes: 0))
        let write = ModbusRequest.writeSingleRegister(address: 4, value: 0x0102)
        #expect(Self.verdict(ModbusPDU.rtuFrame(unit: 1, pdu: ModbusPDU.encode(write)), write) == .accepted(.written, strayBytes: 0))
    }

    @Test("Each wrong answer is named")
    func namedFaults() {
        #expect(Self.verdict([]) == .rejected(.timeout))
        #expect(Self.detail(ModbusPDU.rtuFrame(unit: 7, pdu: [3, 4, 0, 1, 0, 2])) == "answer from unit 7 to a request for unit 1")
        #expect(Self.detail(ModbusPDU.rtuFrame(unit: 1, pdu: [4, 4, 0, 1, 0, 2])) == "answer with function 04 to a request with function 03")
        #expect(Self.detail(ModbusPDU.rtuFrame(unit: 1, pdu: [3, 2, 0, 1])) == "byte count 2 where 2 registers need 4")
        #expect(Self.detail(ModbusPDU.rtuFrame(unit: 1, pdu: [3, 2, 0, 1, 0, 2])) == "byte count 2 where 2 registers need 4")
        #expect(Self.detail(ModbusPDU.rtuFrame(unit: 1, pdu: [3, 4, 0, 1, 0, 2, 9])) == "too long: 1 bytes after the frame")
        #expect(Self.detail(Array(Self.good.prefix(5))) == "truncated: 5 of 9 bytes")
        #expect(Self.detail(ModbusPDU.rtuFrame(unit: 1, pdu: ModbusPDU.encode(Self.read)))
                == "the request came back unchanged (an echo: is the RS-485 adapter echoing what it sends?)")
        #expect(Self.verdict(ModbusPDU.rtuFrame(unit: 1, pdu: [0x83, 0])) == .rejected(.exception(ModbusExceptionCode(rawValue: 0))))
        var damaged = Self.good
        damaged[4] ^= 0x10
        #expect(Self.verdict(damaged) == .rejected(.crcMismatch))
        let write = ModbusRequest.writeSingleRegister(address: 4, value: 0x0102)
        #expect(Self.detail(ModbusPDU.rtuFrame(unit: 1, pdu: [6, 0, 5, 1, 2]), write)
                == "the answer confirms 00 05 01 02 where the request sent 00 04 01 02")
    }
}
