/// Server-side decoding and execution of request PDUs against a register image
/// (Modbus Application Protocol v1.1b3, section 6).
enum SimulatedRequestHandler {
    private static func word(_ pdu: ArraySlice<UInt8>, _ offset: Int) -> Int {
        Int(pdu[pdu.startIndex + offset]) << 8 | Int(pdu[pdu.startIndex + offset + 1])
    }

    static func handle(_ pdu: ArraySlice<UInt8>, image: inout SimulatedController.Image,
                       unimplemented: [RegisterTable: [ClosedRange<Int>]] = [:]) -> Result<[UInt8], ModbusExceptionCode> {
        guard let function = pdu.first else { return .failure(.illegalFunction) }
        let size = image.holdingRegisters.count
        // The table a function addresses (FC23 reads and writes holding registers).
        let table: RegisterTable? = switch function {
        case 1, 5, 15: .coils
        case 2: .discreteInputs
        case 3, 6, 16, 23: .holdingRegisters
        case 4: .inputRegisters
        default: nil
        }
        let holes = table.flatMap { unimplemented[$0] } ?? []
        func inRange(_ address: Int, _ count: Int) -> Bool {
            address + count <= size && !holes.contains { $0.lowerBound < address + count && $0.upperBound >= address }
        }

        switch function {
        case 1, 2:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let address = word(pdu, 1), count = word(pdu, 3)
            guard (1...ModbusRequest.Limits.bitsPerRead).contains(count) else { return .failure(.illegalDataValue) }
            guard inRange(address, count) else { return .failure(.illegalDataAddress) }
            let table = function == 1 ? image.coils : image.discreteInputs
            let packed = ModbusPDU.packBits(Array(table[address..<address + count]))
            return .success([function, UInt8(packed.count)] + packed)

        case 3, 4:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let address = word(pdu, 1), count = word(pdu, 3)
            guard (1...ModbusRequest.Limits.registersPerRead).contains(count) else { return .failure(.illegalDataValue) }
            guard inRange(address, count) else { return .failure(.illegalDataAddress) }
            let table = function == 3 ? image.holdingRegisters : image.inputRegisters
            var response: [UInt8] = [function, UInt8(count * 2)]
            for value in table[address..<address + count] { response.appendBigEndian(value) }
            return .success(response)

        case 5:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let address = word(pdu, 1), value = word(pdu, 3)
            guard value == 0xFF00 || value == 0x0000 else { return .failure(.illegalDataValue) }
            guard inRange(address, 1) else { return .failure(.illegalDataAddress) }
            image.coils[address] = value == 0xFF00
            return .success(Array(pdu))

        case 6:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let address = word(pdu, 1)
            guard inRange(address, 1) else { return .failure(.illegalDataAddress) }
            image.holdingRegisters[address] = UInt16(word(pdu, 3))
            return .success(Array(pdu))

        case 15:
            guard pdu.count >= 6 else { return .failure(.illegalDataValue) }
            let address = word(pdu, 1), count = word(pdu, 3), byteCount = Int(pdu[pdu.startIndex + 5])
            guard (1...ModbusRequest.Limits.coilsPerWrite).contains(count), byteCount == (count + 7) / 8,
                  pdu.count == 6 + byteCount else { return .failure(.illegalDataValue) }
            guard inRange(address, count) else { return .failure(.illegalDataAddress) }
            let bits = ModbusPDU.unpackBits(pdu.dropFirst(6), count: count)
            image.coils.replaceSubrange(address..<address + count, with: bits)
            return .success(Array(pdu.prefix(5)))

        case 16:
            guard pdu.count >= 6 else { return .failure(.illegalDataValue) }
            let address = word(pdu, 1), count = word(pdu, 3), byteCount = Int(pdu[pdu.startIndex + 5])
            guard (1...ModbusRequest.Limits.registersPerWrite).contains(count), byteCount == count * 2,
                  pdu.count == 6 + byteCount else { return .failure(.illegalDataValue) }
            guard inRange(address, count) else { return .failure(.illegalDataAddress) }
            image.holdingRegisters.replaceSubrange(address..<address + count, with: ModbusPDU.registers(pdu.dropFirst(6)))
            return .success(Array(pdu.prefix(5)))

        case 23:
            guard pdu.count >= 10 else { return .failure(.illegalDataValue) }
            let readAddress = word(pdu, 1), readCount = word(pdu, 3)
            let writeAddress = word(pdu, 5), writeCount = word(pdu, 7), byteCount = Int(pdu[pdu.startIndex + 9])
            guard (1...ModbusRequest.Limits.registersPerRead).contains(readCount),
                  (1...ModbusRequest.Limits.registersPerReadWriteWrite).contains(writeCount),
                  byteCount == writeCount * 2, pdu.count == 10 + byteCount else { return .failure(.illegalDataValue) }
            guard inRange(readAddress, readCount), inRange(writeAddress, writeCount) else { return .failure(.illegalDataAddress) }
            // The write happens before the read (specification, function 23).
            image.holdingRegisters.replaceSubrange(writeAddress..<writeAddress + writeCount, with: ModbusPDU.registers(pdu.dropFirst(10)))
            var response: [UInt8] = [function, UInt8(readCount * 2)]
            for value in image.holdingRegisters[readAddress..<readAddress + readCount] { response.appendBigEndian(value) }
            return .success(response)

        default:
            return .failure(.illegalFunction)
        }
    }
}
