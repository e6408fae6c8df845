/// Modbus PDU encoding (function code + data) and the RTU CRC, written from the
/// Modbus Application Protocol and Modbus over Serial Line specifications.
///
/// The master side uses it for broadcasts (libmodbus waits for an answer a broadcast never
/// gets); the simulator uses it to decode requests and encode answers.
package enum ModbusPDU {
    /// The request's PDU bytes as a master sends them.
    package static func encode(_ request: ModbusRequest) -> [UInt8] {
        var pdu: [UInt8] = [request.functionCode]
        switch request {
        case let .readCoils(address, count), let .readDiscreteInputs(address, count),
             let .readHoldingRegisters(address, count), let .readInputRegisters(address, count):
            pdu.appendBigEndian(address)
            pdu.appendBigEndian(UInt16(count))
        case let .writeSingleCoil(address, value):
            pdu.appendBigEndian(address)
            pdu.appendBigEndian(value ? 0xFF00 : 0x0000)
        case let .writeSingleRegister(address, value):
            pdu.appendBigEndian(address)
            pdu.appendBigEndian(value)
        case let .writeMultipleCoils(address, values):
            pdu.appendBigEndian(address)
            pdu.appendBigEndian(UInt16(values.count))
            let packed = packBits(values)
            pdu.append(UInt8(packed.count))
            pdu.append(contentsOf: packed)
        case let .writeMultipleRegisters(address, values):
            pdu.appendBigEndian(address)
            pdu.appendBigEndian(UInt16(values.count))
            pdu.append(UInt8(values.count * 2))
            for value in values { pdu.appendBigEndian(value) }
        case let .readWriteMultipleRegisters(readAddress, readCount, writeAddress, values):
            pdu.appendBigEndian(readAddress)
            pdu.appendBigEndian(UInt16(readCount))
            pdu.appendBigEndian(writeAddress)
            pdu.appendBigEndian(UInt16(values.count))
            pdu.append(UInt8(values.count * 2))
            for value in values { pdu.appendBigEndian(value) }
        }
        return pdu
    }

    /// Bits packed eight to a byte, least significant bit first.
    package static func packBits(_ bits: [Bool]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (index, bit) in bits.enumerated() where bit {
            bytes[index / 8] |= 1 << UInt8(index % 8)
        }
        return bytes
    }

    /// `count` bits unpacked from bytes packed least significant bit first.
    package static func unpackBits(_ bytes: ArraySlice<UInt8>, count: Int) -> [Bool] {
        (0..<count).map { index in
            bytes[bytes.startIndex + index / 8] & (1 << UInt8(index % 8)) != 0
        }
    }

    /// Registers from big-endian byte pairs.
    package static func registers(_ bytes: ArraySlice<UInt8>) -> [UInt16] {
        stride(from: bytes.startIndex, to: bytes.endIndex - 1, by: 2).map {
            UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])
        }
    }

    /// An RTU frame: unit, PDU, CRC (low byte first).
    package static func rtuFrame(unit: UInt8, pdu: [UInt8]) -> [UInt8] {
        var frame = [unit] + pdu
        let crc = crc16(frame[...])
        frame.append(UInt8(crc & 0xFF))
        frame.append(UInt8(crc >> 8))
        return frame
    }

    /// True if the last two bytes of `frame` are the CRC of the bytes before them.
    package static func hasValidCRC(_ frame: ArraySlice<UInt8>) -> Bool {
        guard frame.count >= 4 else { return false }
        let body = frame.dropLast(2)
        let crc = crc16(body)
        return frame[frame.endIndex - 2] == UInt8(crc & 0xFF) && frame[frame.endIndex - 1] == UInt8(crc >> 8)
    }

    /// CRC-16/MODBUS: polynomial 0xA001 (reflected 0x8005), initial value 0xFFFF.
    package static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes {
            crc = (crc >> 8) ^ crcTable[Int(UInt8(truncatingIfNeeded: crc) ^ byte)]
        }
        return crc
    }

    private static let crcTable: [UInt16] = (0..<256).map { index in
        var value = UInt16(index)
        for _ in 0..<8 {
            value = value & 1 != 0 ? (value >> 1) ^ 0xA001 : value >> 1
        }
        return value
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }
}
