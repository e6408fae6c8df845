import Mapping
import Testing

@Suite("Register values: types, byte and word order")
struct RegisterCodecTests {
    @Test("float32 123.456 in each order (bytes 42 F6 E9 79)", arguments: [
        ("abcd", [UInt16(0x42F6), 0xE979]), ("cdab", [0xE979, 0x42F6]),
        ("badc", [0xF642, 0x79E9]), ("dcba", [0x79E9, 0xF642]),
    ])
    func float32Orders(notation: String, registers: [UInt16]) throws {
        let order = try #require(RegisterOrder(notation: notation))
        #expect(RegisterCodec.decode(registers[...], as: .float32, order: order) == .float32(123.456))
        #expect(RegisterCodec.decode(registers[...], as: .float32, order: order).description == "123.456")
        #expect(try RegisterCodec.encode("123.456", as: .float32, order: order) == registers)
    }

    @Test("Signed and unsigned integers of every width round-trip")
    func integers() throws {
        let cases: [(String, RegisterValueType, [UInt16])] = [
            ("-2", .int16, [0xFFFE]), ("65535", .uint16, [0xFFFF]),
            ("-100000", .int32, [0xFFFE, 0x7960]), ("4000000000", .uint32, [0xEE6B, 0x2800]),
            ("-1", .int64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]), ("18446744073709551615", .uint64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]),
            ("1.5", .float64, [0x3FF8, 0, 0, 0]),
        ]
        for (text, type, registers) in cases {
            #expect(try RegisterCodec.encode(text, as: type) == registers, "\(text) as \(type)")
            #expect(RegisterCodec.decode(registers[...], as: type).description == text, "\(registers) as \(type)")
        }
    }

    @Test("Values that do not fit are refused with the reason")
    func refused() {
        #expect(throws: MappingError("70000 is out of range for int16")) { try RegisterCodec.encode("70000", as: .int16) }
        #expect(throws: MappingError("-1 is out of range for uint16")) { try RegisterCodec.encode("-1", as: .uint16) }
        #expect(throws: MappingError("'abc' is not an integer")) { try RegisterCodec.encode("abc", as: .int32) }
        #expect(throws: MappingError("'inf' is not a finite number")) { try RegisterCodec.encode("inf", as: .float32) }
    }

    @Test("decodeAll splits registers into values")
    func decodeAll() {
        let values = RegisterCodec.decodeAll([0, 1, 0xFFFF, 0xFFFF], as: .int32)
        #expect(values == [.signed(1), .signed(-1)])
        #expect(RegisterOrder(notation: "xyzw") == nil)
    }
}
