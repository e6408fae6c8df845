/// The bytes of one transaction as the connection saw them, before they become a `FrameExchange`.
struct FrameBytes {
    var request: [UInt8] = []
    var answer: [UInt8] = []
    var level: FrameExchange.Level = .adu
}

extension FrameExchange {
    /// The answer's unit id and PDU rebuilt from what libmodbus decoded (Modbus TCP: libmodbus
    /// reads the wire bytes itself), encoded as the bus's server encodes its answers.
    static func answerPDU(unit: UInt8, request: ModbusRequest, response: ModbusResponse) -> [UInt8] {
        [unit] + (ModbusPDU.encodeResponse(response, to: request) ?? [request.functionCode])
    }

    /// The answer rebuilt for a failed transaction: an exception PDU (§7), or nothing.
    static func answerPDU(unit: UInt8, request: ModbusRequest, failure: ModbusError.Kind) -> [UInt8] {
        guard case let .exception(code) = failure else { return [] }
        return [unit] + ModbusPDU.exceptionResponse(function: request.functionCode, code)
    }
}
