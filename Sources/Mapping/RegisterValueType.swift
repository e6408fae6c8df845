/// How a point's registers are read as a number.
package enum RegisterValueType: String, Sendable, CaseIterable {
    case int16, uint16, int32, uint32, int64, uint64, float32, float64

    /// float32 and float64.
    package var isFloat: Bool { self == .float32 || self == .float64 }

    /// Registers one value occupies.
    package var registerCount: Int {
        switch self {
        case .int16, .uint16: 1
        case .int32, .uint32, .float32: 2
        case .int64, .uint64, .float64: 4
        }
    }
}

/// Byte and word order of a multi-register value, in the usual `ABCD` notation where `A` is the
/// most significant byte: `ABCD` big-endian (Modbus's own order), `CDAB` words swapped,
/// `BADC` bytes swapped in each register, `DCBA` little-endian.
package struct RegisterOrder: Sendable, Equatable, CustomStringConvertible {
    /// The first register holds the most significant word.
    package var wordsBigEndian: Bool
    /// Each register's first byte is its most significant.
    package var bytesBigEndian: Bool

    package static let bigEndian = RegisterOrder(wordsBigEndian: true, bytesBigEndian: true)

    package init(wordsBigEndian: Bool, bytesBigEndian: Bool) {
        self.wordsBigEndian = wordsBigEndian
        self.bytesBigEndian = bytesBigEndian
    }

    /// Parses `abcd`, `cdab`, `badc` or `dcba` (any case).
    package init?(notation: String) {
        switch notation.lowercased() {
        case "abcd": self = RegisterOrder(wordsBigEndian: true, bytesBigEndian: true)
        case "cdab": self = RegisterOrder(wordsBigEndian: false, bytesBigEndian: true)
        case "badc": self = RegisterOrder(wordsBigEndian: true, bytesBigEndian: false)
        case "dcba": self = RegisterOrder(wordsBigEndian: false, bytesBigEndian: false)
        default: return nil
        }
    }

    package var description: String {
        switch (wordsBigEndian, bytesBigEndian) {
        case (true, true): "ABCD"
        case (false, true): "CDAB"
        case (true, false): "BADC"
        case (false, false): "DCBA"
        }
    }
}

/// A decoded register value.
package enum RegisterValue: Sendable, Equatable, CustomStringConvertible {
    case signed(Int64)
    case unsigned(UInt64)
    case float32(Float)
    case float64(Double)

    /// Integers exactly; floats in the shortest form that reads back to the same value.
    package var description: String {
        switch self {
        case let .signed(value): String(value)
        case let .unsigned(value): String(value)
        case let .float32(value): value.description
        case let .float64(value): value.description
        }
    }
}
