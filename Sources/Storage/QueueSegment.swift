// A message queue's segment file. Every integer is little-endian.
//
//   name:    the segment's first sequence, 20 digits, ".seg" (00000000000000000001.seg)
//   header:  "MBQS", UInt32 format version (1)
//   records: framed as in RecordFraming.swift (UInt32 length, payload, UInt32 CRC-32); a payload is
//     1 (message):         UInt64 sequence, Int64 enqueued-at milliseconds, the message's bytes
//     2 (acknowledgement): one or more (UInt64 first, UInt64 last) sequence ranges
//
// A segment's messages are its name's sequence and the ones after it, without gaps. An
// acknowledgement may name messages of any segment (an earlier one's, mostly); replay applies
// every acknowledgement of every segment. A record that is short, fails its CRC or does not
// decode ends the segment's replay there.

import Glibc
import POSIX

/// One segment file and what the queue keeps of it in memory (no per-message state).
final class QueueSegment {
    static let format = LogFormat(magic: "MBQS", version: 1, name: "modbridge queue segment")
    static let headerBytes = 8
    /// Length, kind, sequence, time, CRC: a message's frame is its payload plus this.
    static let messageOverhead = 4 + 1 + 8 + 8 + 4
    static let messageKind: UInt8 = 1
    static let acknowledgementKind: UInt8 = 2
    /// Ranges per acknowledgement record, so one record stays small.
    static let rangesPerRecord = 4096

    /// The sequence of its first message, which is also its name.
    let first: UInt64
    let path: String
    var descriptor: Int32 = -1
    /// Whether the file exists (a new segment is created by the first flush that writes it).
    var created: Bool
    /// Messages in the file, acknowledged or not: their sequences are first..<first + messageCount.
    var messageCount = 0
    /// Sequences of this segment's messages acknowledged (or dropped by age).
    var acknowledged = SequenceRanges()
    /// Bytes of whole records on disk: where the next write goes, and where reading stops.
    var written: Int
    /// Bytes past `written` that did not replay (a corrupt record in a segment no longer written).
    var unreadableBytes = 0
    /// Records buffered for the next flush.
    var pending: [UInt8] = []
    var firstEnqueuedAt: Int64 = .max
    /// The lowest sequence any acknowledgement record in this file names: deleting the file loses
    /// the acknowledgements of older segments' messages from there on, so they are written again.
    var lowestAcknowledgementStored: UInt64?
    /// Written since the last sync request.
    var needsSync = false
    /// For closing idle read descriptors, least recently used first.
    var lastUse = 0

    init(first: UInt64, directory: String, created: Bool, written: Int) {
        self.first = first
        self.path = directory + "/" + Self.fileName(first)
        self.created = created
        self.written = written
    }

    /// The sequence of its last message; first - 1 when it has none.
    var last: UInt64 { first &+ UInt64(messageCount) &- 1 }
    var sequences: ClosedRange<UInt64>? { messageCount > 0 ? first...last : nil }
    var unacknowledged: Int { messageCount - acknowledged.count }
    /// What it takes on disk, with what is buffered for it.
    var size: Int { written + unreadableBytes + pending.count }

    /// `00000000000000000042.seg` for 42.
    static func fileName(_ first: UInt64) -> String {
        let digits = String(first)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    /// The first sequence a segment file's name gives, nil for any other name.
    static func firstSequence(fileName: String) -> UInt64? {
        guard fileName.utf8.count == 24, fileName.hasSuffix(".seg") else { return nil }
        let digits = fileName.utf8.prefix(20)
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        // Far below UInt64.max, so that numbering on from it cannot overflow.
        guard let first = UInt64(String(decoding: digits, as: UTF8.self)), first < 1 << 62 else { return nil }
        return first
    }

    /// Appends a message record to `bytes`.
    static func appendMessage(to bytes: inout [UInt8], sequence: UInt64, enqueuedAt: Int64, payload: [UInt8]) {
        Frames.appendFrame(to: &bytes) { record in
            record.append(messageKind)
            appendInteger(sequence, to: &record)
            appendInteger(UInt64(bitPattern: enqueuedAt), to: &record)
            record.append(contentsOf: payload)
        }
    }

    /// Appends acknowledgement records for `ranges` to `bytes`.
    static func appendAcknowledgements(to bytes: inout [UInt8], _ ranges: [ClosedRange<UInt64>]) {
        var start = 0
        while start < ranges.count {
            let end = min(start + rangesPerRecord, ranges.count)
            Frames.appendFrame(to: &bytes) { record in
                record.append(acknowledgementKind)
                for range in ranges[start..<end] {
                    appendInteger(range.lowerBound, to: &record)
                    appendInteger(range.upperBound, to: &record)
                }
            }
            start = end
        }
    }

    static func appendInteger(_ value: UInt64, to bytes: inout [UInt8]) {
        for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (index * 8))) }
    }

    static func integer(in bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << ($1 * 8) }
    }
}

/// One record read back from a segment file.
enum SegmentRecord {
    /// A message; its bytes are `payload` in the scanner's `window`.
    case message(sequence: UInt64, enqueuedAt: Int64, payload: Range<Int>)
    case acknowledgement([ClosedRange<UInt64>])
}

/// Reads a segment's records in order with pread, a window of the file at a time, so a read costs
/// the window and not the file.
struct SegmentScanner {
    static let windowBytes = 256 << 10

    let descriptor: Int32
    let path: String
    /// Reading stops here (the segment's whole records; the file may be longer).
    let end: Int
    /// Where the next record starts.
    private(set) var offset: Int
    /// File bytes from `windowStart`.
    private(set) var window: [UInt8] = []
    private var windowStart = 0
    /// Set when reading stopped before `end` at a record that is short, fails its CRC or does not decode.
    private(set) var stoppedAtBadRecord = false

    init(descriptor: Int32, path: String, from offset: Int, to end: Int) {
        self.descriptor = descriptor
        self.path = path
        self.offset = offset
        self.end = end
    }

    /// The next record, nil at the end or at a bad record (then `stoppedAtBadRecord`).
    mutating func next() throws(StorageError) -> SegmentRecord? {
        guard offset < end else { return nil }
        guard try fill(4), let length = Frames.uint32(in: window, at: offset - windowStart),
              end - offset - 8 >= Int(length), try fill(Int(length) + 8),
              let frame = Frames.frame(in: window, at: offset - windowStart),
              let record = Self.decode(window, frame.payload)
        else {
            stoppedAtBadRecord = true
            return nil
        }
        offset = windowStart + frame.next
        return record
    }

    /// The bytes of a payload range `next` returned.
    func bytes(_ range: Range<Int>) -> [UInt8] { Array(window[range]) }

    /// Makes the window hold `count` bytes from `offset`; false if the segment ends before.
    private mutating func fill(_ count: Int) throws(StorageError) -> Bool {
        guard end - offset >= count else { return false }
        if offset >= windowStart, offset + count <= windowStart + window.count { return true }
        let size = min(max(count, Self.windowBytes), end - offset)
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        let start = offset
        while filled < size {
            let read = try StorageFiles.system(path, "read") {
                bytes.withUnsafeMutableBytes { buffer in
                    pread(descriptor, buffer.baseAddress.map { $0 + filled }, size - filled, off_t(start + filled))
                }
            }
            if read == 0 { break } // the file is shorter than the queue thought
            filled += read
        }
        bytes.removeSubrange(filled...)
        window = bytes
        windowStart = start
        return filled >= count
    }

    private static func decode(_ bytes: [UInt8], _ payload: Range<Int>) -> SegmentRecord? {
        guard let kind = payload.first.map({ bytes[$0] }) else { return nil }
        let body = payload.lowerBound + 1
        switch kind {
        case QueueSegment.messageKind:
            guard payload.count >= 17 else { return nil }
            let sequence = QueueSegment.integer(in: bytes, at: body)
            let time = Int64(bitPattern: QueueSegment.integer(in: bytes, at: body + 8))
            return .message(sequence: sequence, enqueuedAt: time, payload: (body + 16)..<payload.upperBound)
        case QueueSegment.acknowledgementKind:
            guard payload.count > 1, (payload.count - 1) % 16 == 0 else { return nil }
            var ranges: [ClosedRange<UInt64>] = []
            var at = body
            while at < payload.upperBound {
                let low = QueueSegment.integer(in: bytes, at: at)
                let high = QueueSegment.integer(in: bytes, at: at + 8)
                guard low <= high else { return nil }
                ranges.append(low...high)
                at += 16
            }
            return .acknowledgement(ranges)
        default:
            return nil
        }
    }
}
