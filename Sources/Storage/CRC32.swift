/// CRC-32 as in zlib, PNG and Ethernet (IEEE 802.3: reflected, polynomial 0xEDB88320, initial
/// value and final XOR 0xFFFFFFFF); check value: "123456789" gives 0xCBF43926.
package enum CRC32 {
    /// One entry per byte value: the CRC of that byte, so each input byte costs one lookup.
    private static let table: [UInt32] = (0..<256).map { (index: UInt32) in
        var value = index
        for _ in 0..<8 {
            value = value & 1 == 1 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1
        }
        return value
    }

    /// The CRC-32 of `bytes`.
    package static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let table = Self.table
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = (crc >> 8) ^ table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)]
        }
        return ~crc
    }
}
