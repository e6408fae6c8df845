/// The bytes of one transaction as the connection saw them, before they become a `FrameExchange`.
struct FrameBytes {
    var request: [UInt8] = []
    var answer: [UInt8] = []
    var level: FrameExchange.Level = .adu
}

extension FrameExchange {
    /// The answer's unit id and PDU rebuilt from what libmodbus decoded (Modbus TCP: libmodbus
    /// reads the wire bytes itself), as Modbus Application Protocol V1.1b3 §6 lays them out.
    static func answerPDU(unit: UInt8, request: ModbusRequest, response: ModbusResponse) -> [UInt8] {
        let function = request.functionCode
        var pdu: [UInt8] = [unit, function]
        switch response {
        case let .bits(bits):
            let packed = ModbusPDU.packBits(bits)
            pdu.append(UInt8(truncatingIfNeeded: packed.count))
            pdu += packed
        case let .registers(registers):
            pdu.append(UInt8(truncatingIfNeeded: registers.count * 2))
            for register in registers { pdu.appendBigEndian(register) }
        case .written:
            // FC05/06 echo the request; FC15/16 echo its address and quantity (§6.11, §6.12).
            let requestPDU = ModbusPDU.encode(request)
            pdu += requestPDU.dropFirst().prefix(4)
        }
        return pdu
    }

    /// The answer rebuilt for a failed transaction: an exception PDU (§7), or nothing.
    static func answerPDU(unit: UInt8, request: ModbusRequest, failure: ModbusError.Kind) -> [UInt8] {
        guard case let .exception(code) = failure else { return [] }
        return [unit, request.functionCode | 0x80, code.rawValue]
    }
}
