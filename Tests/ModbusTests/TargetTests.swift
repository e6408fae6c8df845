import Modbus
import Serial
import Testing

@Suite("Targets and PDU encoding")
struct TargetTests {
    @Test("tcp://, rtu+tcp:// targets and tty paths parse; anything else is refused with the reason")
    func parse() throws {
        #expect(try ModbusTarget.parse("tcp://192.0.2.10:1502").get() == .tcp(host: "192.0.2.10", port: 1502))
        #expect(try ModbusTarget.parse("tcp://plc.local").get() == .tcp(host: "plc.local", port: 502))
        #expect(try ModbusTarget.parse("tcp://[fd00::1]:5020").get() == .tcp(host: "fd00::1", port: 5020))
        let settings = SerialSettings(baudRate: .b19200, parity: .even)
        #expect(try ModbusTarget.parse("/dev/ttyUSB0", serial: settings).get() == .rtu(path: "/dev/ttyUSB0", settings: settings))
        #expect(ModbusTarget.tcp(host: "fd00::1", port: 5020).description == "tcp://[fd00::1]:5020")
        #expect(try ModbusTarget.parse("rtu+tcp://nport.local:4001").get() == .rtuOverTCP(host: "nport.local", port: 4001))
        #expect(try ModbusTarget.parse("rtu+tcp://[fd00::2]:4001").get().description == "rtu+tcp://[fd00::2]:4001")
        guard case let .failure(noPort) = ModbusTarget.parse("rtu+tcp://nport.local") else {
            Issue.record("a device server without a port parsed")
            return
        }
        #expect(noPort.reason.contains("port is required") && noPort.text == "rtu+tcp://nport.local")
        for bad in ["ttyUSB0", "tcp://", "tcp://host:0", "tcp://host:70000", "tcp://[fd00::1", "tcp://[fd00::1]x", "rtu+tcp://:4001",
                    "rtu+tcp://[fd00::1]"] {
            guard case .failure = ModbusTarget.parse(bad) else {
                Issue.record("\(bad) parsed")
                continue
            }
        }
    }

    @Test("CRC-16/MODBUS of the specification's example frame")
    func crc() {
        // Modbus over Serial Line, 6.2.2: 02 07 → CRC 41 12 (low byte first).
        #expect(ModbusPDU.rtuFrame(unit: 2, pdu: [7]) == [0x02, 0x07, 0x41, 0x12])
        #expect(ModbusPDU.hasValidCRC([0x02, 0x07, 0x41, 0x12]))
        #expect(!ModbusPDU.hasValidCRC([0x02, 0x07, 0x41, 0x13]))
    }

    @Test("Request PDUs encode as the specification's examples")
    func pdus() {
        #expect(ModbusPDU.encode(.writeMultipleCoils(address: 19, values: [true, false, true, true, false, false, true, true, true, false]))
                == [0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01])
        #expect(ModbusPDU.encode(.writeMultipleRegisters(address: 1, values: [0x000A, 0x0102]))
                == [0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02])
        #expect(ModbusPDU.encode(.readWriteMultipleRegisters(readAddress: 3, readCount: 6, writeAddress: 14, values: [0x00FF, 0x00FF, 0x00FF]))
                == [0x17, 0x00, 0x03, 0x00, 0x06, 0x00, 0x0E, 0x00, 0x03, 0x06, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF])
    }
}
