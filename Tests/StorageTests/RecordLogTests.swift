import Glibc
import POSIX
import Storage
import TestSupport
import Testing

@Suite("Storage: CRC-32, record framing, replay, torn tails, compaction, the folder lock")
struct RecordLogTests {
    /// A test log: payloads are UTF-8 strings; a payload starting with 0xFF does not decode.
    static let format = LogFormat(magic: "TLOG", version: 3, name: "test log")
    static let fileName = "test.log"

    @Test("CRC-32 gives the standard check values")
    func crcCheckValues() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test("A frame is UInt32 LE length, payload, UInt32 LE CRC-32 of the payload; the header is magic and UInt32 LE version")
    func frameLayout() {
        var bytes: [UInt8] = [0xEE]
        Frames.appendFrame(to: &bytes) { $0 += Array("123456789".utf8) }
        #expect(bytes == [0xEE, 9, 0, 0, 0] + Array("123456789".utf8) + [0x26, 0x39, 0xF4, 0xCB])
        let found = Frames.frame(in: bytes, at: 1)
        #expect(found?.payload == 5..<14)
        #expect(found?.next == bytes.count)
        // Short by a byte anywhere, or a CRC byte off: not a frame.
        #expect(Frames.frame(in: Array(bytes.dropLast()), at: 1) == nil)
        var damaged = bytes
        damaged[bytes.count - 1] ^= 1
        #expect(Frames.frame(in: damaged, at: 1) == nil)
        #expect(Self.format.header == Array("TLOG".utf8) + [3, 0, 0, 0])
    }

    @Test("Appended, flushed, closed and reopened: the same records; the file is then the header and the snapshot's frames, no temporary left")
    func roundTrip() throws {
        let folder = TemporaryFolder()
        let (log, empty) = try Self.open(folder.path)
        #expect(empty.isEmpty)
        for text in ["one", "", "drei", "ü€😀"] { log.append { $0 += Array(text.utf8) } }
        try log.flush()
        log.close()
        log.close()
        let (reopened, records) = try Self.open(folder.path)
        #expect(records == ["one", "", "drei", "ü€😀"])
        #expect(reopened.droppedBytesAtOpen == 0)
        var expected = Frames(after: Self.format.header)
        for text in records { expected.append { $0 += Array(text.utf8) } }
        #expect(readFileBytes(reopened.path) == expected.bytes)
        #expect(reopened.fileSize == expected.bytes.count)
        #expect(readFileBytes(reopened.path + ".tmp") == nil)
    }

    @Test("A torn last record, cut at every byte, is dropped and counted; appends after reopen survive")
    func tornTail() throws {
        let (bytes, lastStart) = try Self.logBytes(["a", "bb"], last: "the last record")
        for cut in lastStart..<bytes.count {
            let copy = TemporaryFolder()
            #expect(writeFileBytes(Array(bytes[..<cut]), to: copy.path + "/" + Self.fileName))
            let (log, records) = try Self.open(copy.path)
            #expect(records == ["a", "bb"], "cut at \(cut)")
            #expect(log.droppedBytesAtOpen == cut - lastStart)
            log.append { $0 += Array("after".utf8) }
            log.close()
            let (again, replayed) = try Self.open(copy.path)
            #expect(replayed == ["a", "bb", "after"], "cut at \(cut)")
            #expect(again.droppedBytesAtOpen == 0)
        }
    }

    @Test("A payload the user cannot decode ends the replay there, like a torn record")
    func undecodablePayloadEndsReplay() throws {
        let folder = TemporaryFolder()
        let (log, _) = try Self.open(folder.path)
        log.append { $0 += Array("kept".utf8) }
        try log.flush()
        let undecodableAt = log.fileSize
        log.append { $0 += [0xFF, 1, 2] }
        log.append { $0 += Array("after the bad one".utf8) }
        try log.flush()
        let total = log.fileSize
        log.close()
        let (reopened, records) = try Self.open(folder.path)
        #expect(records == ["kept"])
        #expect(reopened.droppedBytesAtOpen == total - undecodableAt)
    }

    @Test("Not our log (magic, version) is an error naming the offset, and the file is left as it was; empty or a cut header is a new log")
    func wrongHeader() throws {
        let cases: [(bytes: [UInt8], offset: Int, reason: String)] = [
            (Array("something else entirely".utf8), 0, "not a test log"),
            (Array("TLOG".utf8) + [4, 0, 0, 0], 4, "format version 4, expected 3"),
            (Array("TX".utf8), 0, "not a test log"),
        ]
        for (bytes, offset, reason) in cases {
            let folder = TemporaryFolder()
            let path = folder.path + "/" + Self.fileName
            #expect(writeFileBytes(bytes, to: path))
            #expect(Self.openError(folder.path) == .corrupt(path: path, offset: offset, reason: reason))
            #expect(readFileBytes(path) == bytes)
        }
        for bytes in [[], Array("TLO".utf8)] {
            let folder = TemporaryFolder()
            #expect(writeFileBytes(bytes, to: folder.path + "/" + Self.fileName))
            let (log, records) = try Self.open(folder.path)
            #expect(records.isEmpty)
            #expect(readFileBytes(log.path) == Self.format.header)
        }
    }

    @Test("Compaction writes the snapshot through a temporary file renamed over the log; appends go to the new file")
    func compaction() throws {
        let folder = TemporaryFolder()
        let (log, _) = try Self.open(folder.path)
        for index in 0..<1000 { log.append { $0 += Array("churn \(index)".utf8) } }
        try log.flush()
        let churned = log.fileSize
        try log.compact { $0.append { $0 += Array("snapshot".utf8) } }
        #expect(log.fileSize * 100 < churned)
        var expected = Frames(after: Self.format.header)
        expected.append { $0 += Array("snapshot".utf8) }
        #expect(readFileBytes(log.path) == expected.bytes)
        #expect(readFileBytes(log.path + ".tmp") == nil)
        log.append { $0 += Array("later".utf8) }
        try log.sync()
        log.close()
        #expect(try Self.open(folder.path).1 == ["snapshot", "later"])
    }

    @Test("One log per folder: a second open fails with operation lock until the first is closed; errors name path and operation")
    func folderLockAndErrors() throws {
        let folder = TemporaryFolder()
        let (log, _) = try Self.open(folder.path)
        #expect(Self.openError(folder.path) == .failed(path: folder.path, operation: "lock", Errno(rawValue: EWOULDBLOCK)))
        log.close()
        _ = try Self.open(folder.path)
        let file = folder.path + "/plain-file"
        #expect(writeFileBytes([1], to: file))
        #expect(Self.openError(file + "/log") == .failed(path: file, operation: "mkdir", Errno(rawValue: ENOTDIR)))
    }

    // MARK: - Helpers

    static func open(_ directory: String) throws(StorageError) -> (RecordLog, [String]) {
        try RecordLog.open(
            directory: directory, fileName: fileName, format: format, initial: [String](),
            apply: { records, bytes, payload in
                guard bytes[payload].first != 0xFF, let text = String(validating: bytes[payload], as: UTF8.self) else { return false }
                records.append(text)
                return true
            },
            snapshot: { records, frames in
                for text in records { frames.append { $0 += Array(text.utf8) } }
            })
    }

    static func openError(_ directory: String) -> StorageError? {
        do {
            _ = try open(directory)
            return nil
        } catch {
            return error
        }
    }

    /// A closed log's bytes with `records` then `last`, and where `last`'s frame starts.
    static func logBytes(_ records: [String], last: String) throws -> (bytes: [UInt8], lastStart: Int) {
        let folder = TemporaryFolder()
        let (log, _) = try open(folder.path)
        for text in records { log.append { $0 += Array(text.utf8) } }
        try log.flush()
        let lastStart = log.fileSize
        log.append { $0 += Array(last.utf8) }
        log.close()
        return (try #require(readFileBytes(log.path)), lastStart)
    }
}
