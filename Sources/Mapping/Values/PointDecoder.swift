/// Registers or a bit → the value a point publishes: type, order, scaling, sentinels.
package enum PointDecoder {
    /// `point` read from `registers` (exactly `point.type.width` of them). `decimals` is the
    /// current value of the point named by `decimalsFrom`, if the point scales that way.
    package static func decode(_ point: Point, registers: ArraySlice<UInt16>, decimals: Int64? = nil) -> PointReading {
        guard registers.count == point.type.width, let first = registers.first else {
            return .error("expected \(point.type.width) registers, got \(registers.count)")
        }
        switch point.type {
        case let .number(kind, order):
            let raw = RegisterCodec.decode(registers, as: kind, order: order)
            if let sentinel = sentinel(point, raw: raw) { return .error(sentinel) }
            return scaled(raw, point.scaling, decimals: decimals)
        case .bool:
            return .value(.bool(first != 0))
        case let .bit(number):
            return .value(.bool(first >> UInt16(number) & 1 == 1))
        case let .string(_, order):
            return .value(.string(text(registers, order: order)))
        case let .enumeration(labels):
            if let sentinel = point.sentinels.first(where: { $0.raw == Int64(first) }) { return .error(sentinel.error) }
            return .value(labels[first].map(JSONValue.string) ?? .integer(Int64(first)))
        case let .flags(count, order, names):
            let raw = RegisterCodec.decode(registers, as: count == 1 ? .uint16 : .uint32, order: order)
            guard case let .unsigned(word) = raw else { return .error("not a status word") }
            // The names of the bits set, lowest bit first: one lookup per set bit, no sorting.
            var set: [JSONValue] = []
            var remaining = word
            while remaining != 0 {
                if let name = names[remaining.trailingZeroBitCount] { set.append(.string(name)) }
                remaining &= remaining - 1
            }
            return .value(.array(set))
        }
    }

    /// A coil or discrete input.
    package static func decode(_ point: Point, bit: Bool) -> PointReading {
        .value(.bool(bit))
    }

    /// The flag names set in a `flags` reading (for `invalidWhen`).
    package static func flags(in reading: PointReading?) -> Set<String> {
        guard case let .array(items)? = reading?.value else { return [] }
        return Set(items.compactMap { if case let .string(name) = $0 { name } else { nil } })
    }

    private static func sentinel(_ point: Point, raw: RegisterValue) -> String? {
        let integer: Int64
        switch raw {
        case let .signed(value): integer = value
        case let .unsigned(value): integer = Int64(truncatingIfNeeded: value)
        case .float32, .float64: return nil
        }
        return point.sentinels.first { $0.raw == integer }?.error
    }

    private static func scaled(_ raw: RegisterValue, _ scaling: PointScaling, decimals: Int64?) -> PointReading {
        let number: Double
        switch raw {
        case let .float32(value):
            guard value.isFinite else { return .error("the device sent \(value) (not a number)") }
            // Through its shortest text, so that 65.3f publishes as 65.3, not 65.30000305175781.
            number = Double(value.description) ?? Double(value)
        case let .float64(value):
            guard value.isFinite else { return .error("the device sent \(value) (not a number)") }
            number = value
        case let .signed(value):
            if scaling.isIdentity { return .value(.integer(value)) }
            number = Double(value)
        case let .unsigned(value):
            if scaling.isIdentity, let exact = Int64(exactly: value) { return .value(.integer(exact)) }
            number = Double(value)
        }
        switch scaling {
        case let .linear(scale, offset):
            if scaling.isIdentity { return .value(.number(number)) }
            let places = max(decimalPlaces(scale), decimalPlaces(offset))
            return .value(.number(rounded(number * scale + offset, places: places)))
        case let .decimalsFrom(source):
            guard let decimals else { return .error("its decimal point (\(source)) has not been read") }
            guard (0...9).contains(decimals) else { return .error("its decimal point (\(source)) is \(decimals), expected 0...9") }
            let places = Int(decimals)
            return .value(.number(rounded(number / power(places), places: places)))
        }
    }

    /// Decimal places of a scale factor such as 0.1 or 0.25 (at most 12).
    static func decimalPlaces(_ factor: Double) -> Int {
        for places in 0...12 {
            let shifted = factor * power(places)
            if abs(shifted - shifted.rounded()) <= 1e-9 * max(1, abs(shifted)) { return places }
        }
        return 12
    }

    /// `value` rounded to `places` decimals: 653 × 0.1 is 65.30000000000001 in binary, 65.3 here.
    private static func rounded(_ value: Double, places: Int) -> Double {
        let factor = power(places)
        return (value * factor).rounded() / factor
    }

    static func power(_ places: Int) -> Double {
        var result = 1.0
        for _ in 0..<places { result *= 10 }
        return result
    }

    /// Two characters a register, the first in the high byte (`badc` swaps them); trailing NULs
    /// and spaces dropped.
    private static func text(_ registers: ArraySlice<UInt16>, order: RegisterOrder) -> String {
        var bytes: [UInt8] = []
        for register in registers {
            let word = order.bytesBigEndian ? register : register.byteSwapped
            bytes.append(UInt8(word >> 8))
            bytes.append(UInt8(word & 0xFF))
        }
        while let last = bytes.last, last == 0 || last == 0x20 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
