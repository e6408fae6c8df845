/// The server side of the PDU: a request PDU read into a `ModbusRequest`, and a response or
/// exception PDU written for it (Modbus Application Protocol V1.1b3, section 6), for the bus's
/// Modbus TCP server.
extension ModbusPDU {
    /// The request a client's PDU asks for, or the exception to answer: 01 for a function that
    /// is not one of 1, 2, 3, 4, 5, 6, 15, 16, 23; 03 for a wrong length, count or byte count,
    /// or a coil value other than 0xFF00/0x0000; 02 for a range that runs past address 65535.
    package static func decodeRequest(_ pdu: ArraySlice<UInt8>) -> Result<ModbusRequest, ModbusExceptionCode> {
        guard let function = pdu.first else { return .failure(.illegalFunction) }
        func word(_ offset: Int) -> UInt16 {
            UInt16(pdu[pdu.startIndex + offset]) << 8 | UInt16(pdu[pdu.startIndex + offset + 1])
        }
        let request: ModbusRequest
        switch function {
        case 1, 2, 3, 4:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let (address, count) = (word(1), Int(word(3)))
            switch function {
            case 1: request = .readCoils(address: address, count: count)
            case 2: request = .readDiscreteInputs(address: address, count: count)
            case 3: request = .readHoldingRegisters(address: address, count: count)
            default: request = .readInputRegisters(address: address, count: count)
            }
        case 5:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let value = word(3)
            guard value == 0xFF00 || value == 0x0000 else { return .failure(.illegalDataValue) }
            request = .writeSingleCoil(address: word(1), value: value == 0xFF00)
        case 6:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            request = .writeSingleRegister(address: word(1), value: word(3))
        case 15:
            guard pdu.count >= 6 else { return .failure(.illegalDataValue) }
            let count = Int(word(3)), byteCount = Int(pdu[pdu.startIndex + 5])
            guard count >= 1, byteCount == (count + 7) / 8, pdu.count == 6 + byteCount else { return .failure(.illegalDataValue) }
            request = .writeMultipleCoils(address: word(1), values: unpackBits(pdu.dropFirst(6), count: count))
        case 16:
            guard pdu.count >= 6 else { return .failure(.illegalDataValue) }
            let count = Int(word(3)), byteCount = Int(pdu[pdu.startIndex + 5])
            guard count >= 1, byteCount == count * 2, pdu.count == 6 + byteCount else { return .failure(.illegalDataValue) }
            request = .writeMultipleRegisters(address: word(1), values: registers(pdu.dropFirst(6)))
        case 23:
            guard pdu.count >= 10 else { return .failure(.illegalDataValue) }
            let writeCount = Int(word(7)), byteCount = Int(pdu[pdu.startIndex + 9])
            guard writeCount >= 1, byteCount == writeCount * 2, pdu.count == 10 + byteCount else { return .failure(.illegalDataValue) }
            request = .readWriteMultipleRegisters(readAddress: word(1), readCount: Int(word(3)), writeAddress: word(5),
                                                  values: registers(pdu.dropFirst(10)))
        default:
            return .failure(.illegalFunction)
        }
        // The specification's order: the count first (03), then the address range (02).
        if let violation = request.violation(unit: 1, broadcastAllowed: false) {
            return .failure(violation.contains("runs past") ? .illegalDataAddress : .illegalDataValue)
        }
        return .success(request)
    }

    /// The response PDU a device sends for `request` answered with `response`; nil if the answer
    /// does not fit the request (a kind or count the request did not ask for).
    package static func encodeResponse(_ response: ModbusResponse, to request: ModbusRequest) -> [UInt8]? {
        let function = request.functionCode
        switch (request, response) {
        case let (.readCoils(_, count), .bits(bits)), let (.readDiscreteInputs(_, count), .bits(bits)):
            guard bits.count == count else { return nil }
            let packed = packBits(bits)
            return [function, UInt8(packed.count)] + packed
        case let (.readHoldingRegisters(_, count), .registers(values)), let (.readInputRegisters(_, count), .registers(values)),
             let (.readWriteMultipleRegisters(_, count, _, _), .registers(values)):
            guard values.count == count else { return nil }
            var pdu: [UInt8] = [function, UInt8(values.count * 2)]
            for value in values { pdu.appendBigEndian(value) }
            return pdu
        case (.writeSingleCoil, .written), (.writeSingleRegister, .written):
            // The answer echoes the request (section 6.5, 6.6).
            return encode(request)
        case (.writeMultipleCoils, .written), (.writeMultipleRegisters, .written):
            // The function, the address and the quantity of the request (section 6.11, 6.12).
            return Array(encode(request).prefix(5))
        default:
            return nil
        }
    }

    /// An exception response: the function code with its high bit set, and the code.
    package static func exceptionResponse(function: UInt8, _ code: ModbusExceptionCode) -> [UInt8] {
        [function | 0x80, code.rawValue]
    }
}
