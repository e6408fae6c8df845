/// A command's value → the registers or coil to write, after checking it against the point:
/// writable, the right JSON type, within `min`/`max`, an exact multiple of the scale, a known label.
package enum PointEncoder {
    /// What to write for `value` on `point`. `decimals` is the current value of the point named by
    /// `decimalsFrom`, if the point scales that way. Errors say why, in words for an ack.
    package static func encode(_ value: JSONValue, for point: Point, decimals: Int64? = nil) throws(MappingError) -> RegisterWrite {
        guard point.access.isWritable else { throw MappingError("\(point.name) is read-only") }
        let address = point.address
        if point.table == .coil {
            return .coil(address: address, value: try boolean(value, point))
        }
        switch point.type {
        case let .number(kind, order):
            let raw = try rawNumber(value, point, kind: kind, decimals: decimals)
            return .registers(address: address, values: RegisterCodec.registers(raw, count: kind.registerCount, order: order))
        case .bool:
            return .registers(address: address, values: [try boolean(value, point) ? 1 : 0])
        case let .bit(number):
            return .registerBit(address: address, bit: number, value: try boolean(value, point))
        case let .enumeration(labels):
            return .registers(address: address, values: [try code(value, point, labels: labels)])
        case let .string(count, order):
            return .registers(address: address, values: try text(value, point, registers: count, order: order))
        case let .flags(count, order, names):
            let word = try flagWord(value, point, names: names)
            return .registers(address: address, values: RegisterCodec.registers(word, count: count, order: order))
        }
    }

    /// What to write for `value` on a command point: one of its code labels.
    package static func encode(_ value: JSONValue, for command: CommandPoint) throws(MappingError) -> RegisterWrite {
        guard case let .string(label) = value else {
            throw MappingError("\(command.name) takes one of \(command.codes.keys.sorted().joined(separator: ", ")); found \(value.shortDescription)")
        }
        guard let code = command.codes[label] else {
            throw MappingError("\(command.name) has no code \"\(label)\"; expected one of \(command.codes.keys.sorted().joined(separator: ", "))")
        }
        if command.table == .coil { return .coil(address: command.address, value: code != 0) }
        return .registers(address: command.address, values: [code])
    }

    private static func boolean(_ value: JSONValue, _ point: Point) throws(MappingError) -> Bool {
        switch value {
        case let .bool(flag): return flag
        case .integer(0): return false
        case .integer(1): return true
        default: throw MappingError("\(point.name) takes true or false; found \(value.shortDescription)")
        }
    }

    /// The raw register value (bits for floats) that reads back as `value`.
    private static func rawNumber(_ value: JSONValue, _ point: Point, kind: RegisterValueType, decimals: Int64?) throws(MappingError) -> UInt64 {
        guard let number = value.numberValue else {
            throw MappingError("\(point.name) takes a number; found \(value.shortDescription)")
        }
        if let minimum = point.minimum, number < minimum {
            throw MappingError("\(point.name): \(value.shortDescription) is below the minimum \(JSONValue.numberText(minimum))")
        }
        if let maximum = point.maximum, number > maximum {
            throw MappingError("\(point.name): \(value.shortDescription) is above the maximum \(JSONValue.numberText(maximum))")
        }
        let raw: Double
        switch point.scaling {
        case let .linear(scale, offset):
            raw = (number - offset) / scale
        case let .decimalsFrom(source):
            guard let decimals, (0...9).contains(decimals) else {
                throw MappingError("\(point.name): its decimal point (\(source)) is not known yet; try again after it has been read")
            }
            raw = number * PointDecoder.power(Int(decimals))
        }
        switch kind {
        case .float32:
            return UInt64(Float(raw).bitPattern)
        case .float64:
            return raw.bitPattern
        default:
            let whole = raw.rounded()
            guard abs(raw - whole) <= 1e-6 * max(1, abs(raw)) else {
                throw MappingError("\(point.name): \(value.shortDescription) is finer than the register's resolution (\(resolution(point, decimals: decimals)))")
            }
            let bits = kind.registerCount * 16
            if kind == .int16 || kind == .int32 || kind == .int64 {
                let limit = bits == 64 ? Double(Int64.max) : Double(Int64(1) << (bits - 1))
                guard whole >= -limit, whole < limit, let exact = Int64(exactly: whole) else { throw outOfRange(value, point, kind) }
                return UInt64(bitPattern: exact) & (bits == 64 ? .max : (UInt64(1) << bits) - 1)
            }
            guard whole >= 0, let exact = UInt64(exactly: whole), bits == 64 || exact < UInt64(1) << bits else {
                throw outOfRange(value, point, kind)
            }
            return exact
        }
    }

    private static func outOfRange(_ value: JSONValue, _ point: Point, _ kind: RegisterValueType) -> MappingError {
        MappingError("\(point.name): \(value.shortDescription) does not fit its \(kind.rawValue) register")
    }

    private static func resolution(_ point: Point, decimals: Int64?) -> String {
        switch point.scaling {
        case let .linear(scale, _): JSONValue.numberText(scale)
        case .decimalsFrom: JSONValue.numberText(1 / PointDecoder.power(Int(decimals ?? 0)))
        }
    }

    private static func code(_ value: JSONValue, _ point: Point, labels: [UInt16: String]) throws(MappingError) -> UInt16 {
        let known = labels.sorted { $0.key < $1.key }.map(\.value).joined(separator: ", ")
        switch value {
        case let .string(label):
            guard let code = labels.first(where: { $0.value == label })?.key else {
                throw MappingError("\(point.name) has no label \"\(label)\"; expected one of \(known)")
            }
            return code
        case let .integer(number):
            guard let code = UInt16(exactly: number), labels[code] != nil else {
                throw MappingError("\(point.name): \(number) is not one of its codes; expected one of \(known)")
            }
            return code
        default:
            throw MappingError("\(point.name) takes one of \(known); found \(value.shortDescription)")
        }
    }

    private static func text(_ value: JSONValue, _ point: Point, registers: Int, order: RegisterOrder) throws(MappingError) -> [UInt16] {
        guard case let .string(text) = value else {
            throw MappingError("\(point.name) takes a string; found \(value.shortDescription)")
        }
        let bytes = Array(text.utf8)
        guard bytes.count <= registers * 2 else {
            throw MappingError("\(point.name): \(bytes.count) bytes do not fit its \(registers) registers (at most \(registers * 2))")
        }
        let padded = bytes + [UInt8](repeating: 0, count: registers * 2 - bytes.count)
        return (0..<registers).map { index in
            let word = UInt16(padded[2 * index]) << 8 | UInt16(padded[2 * index + 1])
            return order.bytesBigEndian ? word : word.byteSwapped
        }
    }

    private static func flagWord(_ value: JSONValue, _ point: Point, names: [Int: String]) throws(MappingError) -> UInt64 {
        guard case let .array(items) = value else {
            throw MappingError("\(point.name) takes an array of flag names; found \(value.shortDescription)")
        }
        var word: UInt64 = 0
        for item in items {
            guard case let .string(name) = item, let bit = names.first(where: { $0.value == name })?.key else {
                throw MappingError("\(point.name) has no flag \(item.shortDescription); expected names from \(names.values.sorted().joined(separator: ", "))")
            }
            word |= 1 << UInt64(bit)
        }
        return word
    }
}
