/// Registers ⇄ typed values, with byte and word order.
package enum RegisterCodec {
    /// The value in `registers` (exactly `type.registerCount` of them).
    package static func decode(_ registers: ArraySlice<UInt16>, as type: RegisterValueType, order: RegisterOrder = .bigEndian) -> RegisterValue {
        let raw = combine(registers, order: order)
        switch type {
        case .int16: return .signed(Int64(Int16(truncatingIfNeeded: raw)))
        case .uint16: return .unsigned(raw & 0xFFFF)
        case .int32: return .signed(Int64(Int32(truncatingIfNeeded: raw)))
        case .uint32: return .unsigned(raw & 0xFFFF_FFFF)
        case .int64: return .signed(Int64(bitPattern: raw))
        case .uint64: return .unsigned(raw)
        case .float32: return .float32(Float(bitPattern: UInt32(truncatingIfNeeded: raw)))
        case .float64: return .float64(Double(bitPattern: raw))
        }
    }

    /// Every value in `registers`, one per `type.registerCount` registers.
    package static func decodeAll(_ registers: [UInt16], as type: RegisterValueType, order: RegisterOrder = .bigEndian) -> [RegisterValue] {
        stride(from: 0, to: registers.count - type.registerCount + 1, by: type.registerCount).map {
            decode(registers[$0..<$0 + type.registerCount], as: type, order: order)
        }
    }

    /// The registers that hold `text` read as a `type`, or an error saying why it does not fit.
    package static func encode(_ text: String, as type: RegisterValueType, order: RegisterOrder = .bigEndian) throws(MappingError) -> [UInt16] {
        let raw: UInt64
        func outOfRange() -> MappingError { MappingError("\(text) is out of range for \(type.rawValue)") }
        // Digits that do not fit 64 bits are out of range, not "not an integer".
        let isWhole = !text.isEmpty && text.utf8.enumerated().allSatisfy { index, byte in
            (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (index == 0 && byte == UInt8(ascii: "-") && text.utf8.count > 1)
        }
        switch type {
        case .int16, .int32, .int64:
            guard let value = Int64(text) else { throw isWhole ? outOfRange() : MappingError("'\(text)' is not an integer") }
            let bits = type.registerCount * 16
            if bits < 64 {
                let limit = Int64(1) << (bits - 1)
                guard value >= -limit && value < limit else { throw outOfRange() }
            }
            raw = UInt64(bitPattern: value)
        case .uint16, .uint32, .uint64:
            guard let value = UInt64(text) else {
                throw isWhole ? outOfRange() : MappingError("'\(text)' is not an unsigned integer")
            }
            let bits = type.registerCount * 16
            guard bits == 64 || value < UInt64(1) << bits else { throw outOfRange() }
            raw = value
        case .float32:
            guard let value = Float(text), value.isFinite else { throw MappingError("'\(text)' is not a finite number") }
            raw = UInt64(value.bitPattern)
        case .float64:
            guard let value = Double(text), value.isFinite else { throw MappingError("'\(text)' is not a finite number") }
            raw = value.bitPattern
        }
        return registers(raw, count: type.registerCount, order: order)
    }

    /// The low `count` × 16 bits of `raw` as registers in `order`.
    package static func registers(_ raw: UInt64, count: Int, order: RegisterOrder = .bigEndian) -> [UInt16] {
        var words = (0..<count).map { index in UInt16(truncatingIfNeeded: raw >> (16 * UInt64(count - 1 - index))) }
        if !order.wordsBigEndian { words.reverse() }
        return words.map { order.bytesBigEndian ? $0 : $0.byteSwapped }
    }

    private static func combine(_ registers: ArraySlice<UInt16>, order: RegisterOrder) -> UInt64 {
        // No array on the way: this runs for every point of every poll.
        var raw: UInt64 = 0
        func add(_ register: UInt16) { raw = raw << 16 | UInt64(order.bytesBigEndian ? register : register.byteSwapped) }
        if order.wordsBigEndian {
            for register in registers { add(register) }
        } else {
            for register in registers.reversed() { add(register) }
        }
        return raw
    }

}
