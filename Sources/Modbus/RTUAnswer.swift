/// The bytes a master read after an RTU request, checked against that request.
///
/// Frames are unit, PDU, CRC (Modbus over Serial Line §2.5.1); each function's answer is laid out
/// in the Modbus Application Protocol §6. Every fault gets its name: another unit, another
/// function, the request echoed back, a byte count that does not fit the request, a frame cut
/// short or too long. "CRC error" is left for bytes that no reading turns into a whole frame.
enum RTUAnswer {
    /// What the bytes amount to.
    enum Verdict: Equatable {
        /// A good answer, and how many stray bytes followed it before the line went quiet.
        case accepted(ModbusResponse, strayBytes: Int)
        case rejected(ModbusError.Kind)
    }

    /// The length of a correct answer to `request`.
    static func expectedLength(of request: ModbusRequest) -> Int {
        switch request {
        case let .readCoils(_, count), let .readDiscreteInputs(_, count): 5 + (count + 7) / 8
        case let .readHoldingRegisters(_, count), let .readInputRegisters(_, count): 5 + 2 * count
        case let .readWriteMultipleRegisters(_, readCount, _, _): 5 + 2 * readCount
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleCoils, .writeMultipleRegisters: 8
        }
    }

    /// The frame length the first bytes announce, read as a master frames an answer (by its
    /// function code and byte count, as libmodbus does); nil while too few bytes have come, or
    /// for a function whose answer length they do not tell.
    static func announcedLength(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        let function = bytes[1]
        if function & 0x80 != 0 { return 5 }
        switch function {
        case 1, 2, 3, 4, 23: return bytes.count >= 3 ? 5 + Int(bytes[2]) : nil
        case 5, 6, 15, 16: return 8
        default: return nil
        }
    }

    /// Checks `bytes`, everything read until the line went quiet, as the answer to `request` for
    /// `unit`; `sent` is the request frame as sent, before its CRC.
    static func check(_ bytes: [UInt8], request: ModbusRequest, unit: UInt8, sent: [UInt8]) -> Verdict {
        guard !bytes.isEmpty else { return .rejected(.timeout) }
        let function = request.functionCode
        // A correct FC05/FC06 answer is the request itself (Application Protocol §6.5, §6.6).
        if function != 5 && function != 6 && bytes.count >= sent.count + 2 && bytes.starts(with: sent)
            && ModbusPDU.hasValidCRC(bytes[0..<sent.count + 2]) {
            return .rejected(.invalidFrame("the request came back unchanged (an echo: is the RS-485 adapter echoing what it sends?)"))
        }
        let expected = expectedLength(of: request)
        if let announced = announcedLength(bytes), bytes.count >= announced, ModbusPDU.hasValidCRC(bytes[0..<announced]) {
            switch decode(bytes[0..<announced], request: request, unit: unit) {
            case let .success(response): return .accepted(response, strayBytes: bytes.count - announced)
            case let .failure(refusal): return .rejected(refusal.kind)
            }
        }
        if ModbusPDU.hasValidCRC(bytes[...]) {
            // The CRC closes all the bytes: one frame, whose header does not fit its length.
            if case let .failure(refusal) = decode(bytes[...], request: request, unit: unit) { return .rejected(refusal.kind) }
            let length = bytes[1] & 0x80 != 0 ? 5 : expected
            if bytes.count > length { return .rejected(.invalidFrame("too long: \(bytes.count - length) bytes after the frame")) }
            return .rejected(.invalidFrame("truncated: \(bytes.count) of \(length) bytes"))
        }
        // No CRC closes a frame. Bytes that start like the answer and stop early were cut short;
        // anything else is damaged (or noise): a CRC error.
        let startsLikeAnswer = bytes[0] == unit && (bytes.count < 2 || bytes[1] == function || bytes[1] == function | 0x80)
        let length = announcedLength(bytes) ?? expected
        if startsLikeAnswer && bytes.count < length {
            return .rejected(.invalidFrame("truncated: \(bytes.count) of \(length) bytes"))
        }
        return .rejected(.crcMismatch)
    }

    private struct Refusal: Error {
        let kind: ModbusError.Kind
        init(_ detail: String) { kind = .invalidFrame(detail) }
        init(exception code: UInt8) { kind = .exception(ModbusExceptionCode(rawValue: code)) }
    }

    /// The response in `frame` (whole by its CRC; a slice from index 0 of the bytes read), or
    /// what in it does not answer `request`.
    private static func decode(_ frame: ArraySlice<UInt8>, request: ModbusRequest, unit: UInt8) -> Result<ModbusResponse, Refusal> {
        let function = request.functionCode
        if frame[0] != unit { return .failure(Refusal("answer from unit \(frame[0]) to a request for unit \(unit)")) }
        if frame[1] == function | 0x80 {
            // An exception answer is unit, function | 0x80, code, CRC (Application Protocol §7).
            if frame.count > 5 { return .failure(Refusal("too long: \(frame.count - 5) bytes after the frame")) }
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
            guard frame.count >= 5 + needed else { return .failure(Refusal("truncated: \(frame.count) of \(5 + needed) bytes")) }
            return .success(.bits(ModbusPDU.unpackBits(frame[3..<3 + needed], count: count)))
        case let .readHoldingRegisters(_, count), let .readInputRegisters(_, count),
             let .readWriteMultipleRegisters(_, count, _, _):
            guard byteCount == 2 * count else {
                return .failure(Refusal("byte count \(byteCount) where \(count) registers need \(2 * count)"))
            }
            guard frame.count >= 5 + 2 * count else { return .failure(Refusal("truncated: \(frame.count) of \(5 + 2 * count) bytes")) }
            return .success(.registers(ModbusPDU.registers(frame[3..<3 + 2 * count])))
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleCoils, .writeMultipleRegisters:
            // The answer repeats the address and the value (FC05/06) or quantity (FC15/16) sent.
            let sent = ModbusPDU.encode(request)[1..<5]
            guard frame.count >= 8 else { return .failure(Refusal("truncated: \(frame.count) of 8 bytes")) }
            let confirmed = frame[2..<6]
            guard confirmed.elementsEqual(sent) else {
                return .failure(Refusal("the answer confirms \(hex(confirmed)) where the request sent \(hex(sent))"))
            }
            return .success(.written)
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { hex($0) }.joined(separator: " ")
    }
}
