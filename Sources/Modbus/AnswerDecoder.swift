/// Reads one whole answer frame (unit, PDU, checksum) as the answer to a request, for every
/// serial framing: RTU (CRC, 2 bytes) and ASCII (LRC, 1 byte, once its hex is decoded).
///
/// The frame's checksum has been checked; what is left is whether it answers the request: the
/// unit, the function, an exception, the byte count and the values confirmed (Modbus
/// Application Protocol §6 for each function's answer, §7 for exceptions).
enum AnswerDecoder {
    /// What in a whole frame does not answer the request.
    struct Refusal: Error {
        let kind: ModbusError.Kind
        init(_ detail: String) { kind = .invalidFrame(detail) }
        init(kind: ModbusError.Kind) { self.kind = kind }
        init(exception code: UInt8) { kind = .exception(ModbusExceptionCode(rawValue: code)) }
    }

    /// The response in `frame` (whole by its checksum of `checksumLength` bytes; a slice from
    /// index 0), or what in it does not answer `request` for `unit`.
    static func decode(_ frame: ArraySlice<UInt8>, checksumLength: Int, request: ModbusRequest, unit: UInt8) -> Result<ModbusResponse, Refusal> {
        let function = request.functionCode
        if frame[0] != unit { return .failure(Refusal("answer from unit \(frame[0]) to a request for unit \(unit)")) }
        // Unit, function, one more byte (exception code or byte count), then the checksum.
        let header = 3 + checksumLength
        if frame[1] == function | 0x80 {
            // An exception answer is unit, function | 0x80, code, checksum (Application Protocol §7).
            if frame.count > header { return .failure(Refusal("too long: \(frame.count - header) bytes after the frame")) }
            return .failure(Refusal(exception: frame[2]))
        }
        if frame[1] != function {
            return .failure(Refusal("answer with function \(hex(frame[1])) to a request with function \(hex(function))"))
        }
        let byteCount = Int(frame[2])
        switch request {
        case let .readCoils(_, count), let .readDiscreteInputs(_, count):
            let needed = (count + 7) / 8
            guard byteCount == needed else { return .failure(Refusal("byte count \(byteCount) where \(count) bits need \(needed)")) }
            guard frame.count >= header + needed else { return .failure(Refusal("truncated: \(frame.count) of \(header + needed) bytes")) }
            return .success(.bits(ModbusPDU.unpackBits(frame[3..<3 + needed], count: count)))
        case let .readHoldingRegisters(_, count), let .readInputRegisters(_, count),
             let .readWriteMultipleRegisters(_, count, _, _):
            guard byteCount == 2 * count else {
                return .failure(Refusal("byte count \(byteCount) where \(count) registers need \(2 * count)"))
            }
            guard frame.count >= header + 2 * count else { return .failure(Refusal("truncated: \(frame.count) of \(header + 2 * count) bytes")) }
            return .success(.registers(ModbusPDU.registers(frame[3..<3 + 2 * count])))
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleCoils, .writeMultipleRegisters:
            // The answer repeats the address and the value (FC05/06) or quantity (FC15/16) sent.
            let sent = ModbusPDU.encode(request)[1..<5]
            let length = 6 + checksumLength
            guard frame.count >= length else { return .failure(Refusal("truncated: \(frame.count) of \(length) bytes")) }
            let confirmed = frame[2..<6]
            guard confirmed.elementsEqual(sent) else {
                return .failure(Refusal("the answer confirms \(FrameExchange.hex(confirmed)) where the request sent \(FrameExchange.hex(sent))"))
            }
            return .success(.written)
        }
    }

    /// `0B`: one byte as two uppercase hex digits (`FrameExchange.hex` writes several).
    static func hex(_ byte: UInt8) -> String {
        (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
    }
}
