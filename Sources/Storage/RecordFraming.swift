// A record log's file format. Every integer is little-endian.
//
//   header:  4 magic bytes, UInt32 format version
//   records: UInt32 payload length, payload, UInt32 CRC-32 (IEEE, see CRC32.swift) of the payload
//
// What a payload holds is the user's business (the broker's StoreRecord, say); a payload it
// cannot decode counts as torn, like a short one or one that fails its CRC.

/// Which log a file is: its magic bytes, format version and a name for error messages.
package struct LogFormat: Sendable {
    package let magic: [UInt8]
    package let version: UInt32
    /// Says what a file is not, when its header is wrong ("not a modbridge broker log").
    package let name: String

    /// A format; `magic` is 4 bytes.
    package init(magic: String, version: UInt32, name: String) {
        precondition(magic.utf8.count == 4, "a log's magic is 4 bytes")
        self.magic = Array(magic.utf8)
        self.version = version
        self.name = name
    }

    /// The 8 bytes a log file starts with.
    package var header: [UInt8] { magic + (0..<4).map { UInt8(truncatingIfNeeded: version >> ($0 * 8)) } }
}

/// Frames of records in a byte buffer: what a compaction writes whole.
package struct Frames {
    package private(set) var bytes: [UInt8]

    /// Frames appended after `bytes` (a log's header, say).
    package init(after bytes: [UInt8] = []) {
        self.bytes = bytes
    }

    /// Appends one frame whose payload `encodePayload` appends.
    package mutating func append(_ encodePayload: (inout [UInt8]) -> Void) {
        Self.appendFrame(to: &bytes, encodePayload)
    }

    /// Appends a frame to `bytes`: length, the payload `encodePayload` appends, CRC-32 of the payload.
    package static func appendFrame(to bytes: inout [UInt8], _ encodePayload: (inout [UInt8]) -> Void) {
        let lengthAt = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0]) // filled in once the payload is there
        encodePayload(&bytes)
        let length = bytes.count - lengthAt - 4
        precondition(length <= Int(UInt32.max), "a log record is larger than 4 GiB")
        for index in 0..<4 {
            bytes[lengthAt + index] = UInt8(truncatingIfNeeded: length >> (index * 8))
        }
        let crc = CRC32.checksum(bytes[(lengthAt + 4)...])
        for index in 0..<4 {
            bytes.append(UInt8(truncatingIfNeeded: crc >> (index * 8)))
        }
    }

    /// The payload of the frame at `offset` and where the next frame starts; nil if the frame is
    /// short or fails its CRC.
    package static func frame(in bytes: [UInt8], at offset: Int) -> (payload: Range<Int>, next: Int)? {
        guard offset >= 0, let length = uint32(in: bytes, at: offset) else { return nil }
        let start = offset + 4
        guard bytes.count - start >= Int(length) + 4 else { return nil }
        let end = start + Int(length)
        guard let crc = uint32(in: bytes, at: end), CRC32.checksum(bytes[start..<end]) == crc else { return nil }
        return (start..<end, end + 4)
    }

    /// The little-endian UInt32 at `offset`, nil past the end.
    static func uint32(in bytes: [UInt8], at offset: Int) -> UInt32? {
        guard offset >= 0, bytes.count - offset >= 4 else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << ($1 * 8) }
    }
}
