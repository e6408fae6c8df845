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
            switch AnswerDecoder.decode(bytes[0..<announced], checksumLength: 2, request: request, unit: unit) {
            case let .success(response): return .accepted(response, strayBytes: bytes.count - announced)
            case let .failure(refusal): return .rejected(refusal.kind)
            }
        }
        if ModbusPDU.hasValidCRC(bytes[...]) {
            // The CRC closes all the bytes: one frame, whose header does not fit its length.
            if case let .failure(refusal) = AnswerDecoder.decode(bytes[...], checksumLength: 2, request: request, unit: unit) { return .rejected(refusal.kind) }
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
}
