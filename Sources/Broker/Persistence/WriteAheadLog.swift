// The broker's log file, format version 1. Every integer is little-endian.
//
//   header:  "MBWL" (4 bytes), UInt32 format version (1)
//   records: UInt32 payload length, payload, UInt32 CRC-32 (IEEE, see CRC32.swift) of the payload
//
// A payload is one StoreRecord (see StoreRecord.swift): a type byte, then its fields: strings as
// UInt16 length + UTF-8, packet identifiers as UInt16, QoS and retain flag as one byte each,
// message payloads as UInt32 length + bytes. A payload decodes only if it is used up exactly.
//
// Between compactions the file only grows by appends, and a compaction replaces it whole by
// rename, so a crash can leave at most one torn record at the end. Replay stops at the first
// record that is short, fails its CRC or does not decode, and drops everything from there.

import Glibc
import POSIX

/// An append-only log of StoreRecords in a folder; the one owner of its file descriptor.
///
/// Used from one thread at a time (the broker's reactor). One log per folder: a second `open`
/// of a folder whose log is open (in this process or another) fails with operation "lock".
public final class WriteAheadLog {
    /// The log's file name in its folder.
    public static let fileName = "broker.wal"
    static let formatVersion: UInt32 = 1
    static let header: [UInt8] = Array("MBWL".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: formatVersion >> ($0 * 8)) }

    /// The log file's path.
    public let path: String
    private let directory: String
    /// Held open for the lock and to fsync the folder after a rename.
    private var directoryDescriptor: Int32
    private var descriptor: Int32 = -1
    private var buffer: [UInt8] = []
    private var size = 0
    /// A rename not yet known to be on disk: the next sync fsyncs the folder too.
    private var directoryNeedsSync = false
    /// After a failed fsync, Linux may have dropped the dirty pages and cleared the error, so a
    /// retry could "succeed" without the data: sync keeps failing until a compaction rewrites it.
    private var syncFailure: BrokerError?
    /// Bytes dropped from the end of the file at open (a torn or corrupt tail; 0 after a clean close).
    public private(set) var droppedBytesAtOpen = 0

    private init(directory: String, directoryDescriptor: Int32) {
        self.directory = directory
        self.path = directory + "/" + Self.fileName
        self.directoryDescriptor = directoryDescriptor
    }

    deinit { close() }

    /// Opens (creating the folder and file if needed) `directory/broker.wal`, replays it, drops a torn or corrupt tail, then compacts it to a snapshot of the replayed state.
    public static func open(directory: String) throws(BrokerError) -> (WriteAheadLog, DurableState) {
        try makeDirectories(directory)
        let folder = try system(directory, "open") { Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        let log = WriteAheadLog(directory: directory, directoryDescriptor: folder)
        // Two brokers appending to one log would interleave their records.
        try system(directory, "lock") { flock(folder, LOCK_EX | LOCK_NB) }
        let bytes = try readFile(log.path)
        let (state, end) = try replay(bytes, path: log.path)
        log.droppedBytesAtOpen = bytes.count - end
        // The rewrite leaves the torn tail out (truncating it, in effect); the old file stays until the new one is whole.
        try log.compact(to: state)
        return (log, state)
    }

    /// Buffers a record (no syscall).
    public func append(_ record: StoreRecord) {
        Self.appendFrame(record, to: &buffer)
    }

    /// Writes buffered records (one pwrite when possible); then they survive a kill -9 of the process. On failure they stay buffered for the next flush.
    public func flush() throws(BrokerError) {
        guard !buffer.isEmpty else { return }
        do {
            // pwrite at the end of the last whole record: a retry rewrites the same bytes there.
            try Self.writeAll(buffer, to: descriptor, at: size, path: path)
        } catch {
            // Cut a partial write back to the last whole record, so the file stays valid meanwhile.
            _ = try? Self.system(path, "ftruncate") { ftruncate(descriptor, off_t(size)) }
            throw error
        }
        size += buffer.count
        // A huge message should not keep its buffer alive for ever.
        buffer.removeAll(keepingCapacity: buffer.count <= 1 << 20)
    }

    /// Flushes, then fsync(2): after this returns, every appended record survives a power loss.
    public func sync() throws(BrokerError) {
        if let syncFailure { throw syncFailure }
        try flush()
        do {
            try Self.system(path, "fsync") { fsync(descriptor) }
            if directoryNeedsSync {
                try Self.system(directory, "fsync") { fsync(directoryDescriptor) }
                directoryNeedsSync = false
            }
        } catch {
            syncFailure = error
            throw error
        }
    }

    /// Bytes in the file now (not counting buffered records).
    public var fileSize: Int { size }

    /// Rewrites the log as `state.snapshotRecords()` through a fsynced temporary file renamed over it; `state` must include every record appended so far (the buffer is dropped).
    public func compact(to state: DurableState) throws(BrokerError) {
        guard directoryDescriptor >= 0 else {
            throw .storageFailed(path: path, operation: "compact", Errno(rawValue: EBADF))
        }
        var bytes = Self.header
        for record in state.snapshotRecords() { Self.appendFrame(record, to: &bytes) }
        let temporary = path + ".tmp"
        let file = try Self.system(temporary, "open") {
            Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        }
        do {
            try Self.writeAll(bytes, to: file, at: 0, path: temporary)
            // The data must be on disk before the name points at it, or a power loss could leave
            // the log renamed but empty.
            try Self.system(temporary, "fsync") { fsync(file) }
            try Self.system(temporary, "rename") { rename(temporary, path) }
        } catch {
            Self.closeDescriptor(file)
            _ = try? Self.system(temporary, "unlink") { unlink(temporary) }
            throw error
        }
        // The path now names the new file: append to it, whatever the folder's fsync says.
        Self.closeDescriptor(descriptor)
        descriptor = file
        size = bytes.count
        buffer.removeAll()
        syncFailure = nil
        directoryNeedsSync = true
        try Self.system(directory, "fsync") { fsync(directoryDescriptor) }
        directoryNeedsSync = false
    }

    /// Flushes, syncs and closes (releasing the folder's lock). Safe to call twice. Errors are dropped: call sync() first to see them.
    public func close() {
        guard directoryDescriptor >= 0 else { return }
        if descriptor >= 0 { // not when open failed before the first compaction
            try? flush()
            try? sync()
        }
        Self.closeDescriptor(descriptor)
        descriptor = -1
        Self.closeDescriptor(directoryDescriptor)
        directoryDescriptor = -1
    }

    // MARK: - Format

    /// Appends `record` framed: length, payload, CRC-32 of the payload.
    static func appendFrame(_ record: StoreRecord, to bytes: inout [UInt8]) {
        let lengthAt = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0]) // filled in once the payload is there
        record.encode(into: &bytes)
        let length = bytes.count - lengthAt - 4
        precondition(length <= Int(UInt32.max), "a store record is larger than 4 GiB")
        for index in 0..<4 {
            bytes[lengthAt + index] = UInt8(truncatingIfNeeded: length >> (index * 8))
        }
        let crc = CRC32.checksum(bytes[(lengthAt + 4)...])
        for index in 0..<4 {
            bytes.append(UInt8(truncatingIfNeeded: crc >> (index * 8)))
        }
    }

    /// The state in a log file's bytes, and where its last whole record ends.
    static func replay(_ bytes: [UInt8], path: String) throws(BrokerError) -> (DurableState, end: Int) {
        var state = DurableState()
        guard bytes.count >= header.count else {
            // Empty, or a header cut short: there are no records of ours to lose.
            guard header.starts(with: bytes) else {
                throw .storageCorrupt(path: path, offset: 0, reason: "not a modbridge broker log")
            }
            return (state, 0)
        }
        var reader = StoreRecordReader(bytes: bytes, index: 0, end: bytes.count)
        guard reader.count(4)?.elementsEqual(header.prefix(4)) == true else {
            throw .storageCorrupt(path: path, offset: 0, reason: "not a modbridge broker log")
        }
        let version = reader.uint32() ?? 0
        guard version == formatVersion else {
            throw .storageCorrupt(path: path, offset: 4, reason: "format version \(version), expected \(formatVersion)")
        }
        var end = reader.index
        while let found = frame(in: bytes, at: end) {
            state.apply(found.record)
            end = found.next
        }
        return (state, end)
    }

    /// The record framed at `offset`, and where the next frame starts; nil if it is not whole and valid.
    static func frame(in bytes: [UInt8], at offset: Int) -> (record: StoreRecord, next: Int)? {
        var reader = StoreRecordReader(bytes: bytes, index: offset, end: bytes.count)
        guard let length = reader.uint32(), let payload = reader.count(Int(length)), let crc = reader.uint32(),
              CRC32.checksum(payload) == crc,
              let record = StoreRecord.decode(bytes, in: payload.indices) else { return nil }
        return (record, reader.index)
    }

    // MARK: - Files

    /// `mkdir -p`, fsyncing the parent of each folder it creates so the new entry survives a power loss.
    private static func makeDirectories(_ directory: String) throws(BrokerError) {
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + component
            do throws(Errno) {
                _ = try checkedSyscall { mkdir(current, 0o700) }
            } catch {
                // EEXIST, or EROFS/EACCES for a folder that exists: fine if it is a folder.
                var info = stat()
                guard stat(current, &info) == 0 else { throw .storageFailed(path: current, operation: "mkdir", error) }
                if (info.st_mode & S_IFMT) == S_IFDIR { continue }
                throw .storageFailed(path: current, operation: "mkdir", Errno(rawValue: ENOTDIR))
            }
            let folder = try system(parent, "open") { Glibc.open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            defer { closeDescriptor(folder) }
            try system(parent, "fsync") { fsync(folder) }
        }
    }

    /// The whole file (empty if there is none).
    private static func readFile(_ path: String) throws(BrokerError) -> [UInt8] {
        let file: Int32
        do throws(Errno) {
            file = try checkedSyscall { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        } catch {
            if error.rawValue == ENOENT { return [] }
            throw .storageFailed(path: path, operation: "open", error)
        }
        defer { closeDescriptor(file) }
        var info = stat()
        try system(path, "fstat") { fstat(file, &info) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = try system(path, "read") {
                bytes.withUnsafeMutableBytes { buffer in
                    pread(file, buffer.baseAddress.map { $0 + filled }, buffer.count - filled, off_t(filled))
                }
            }
            if count == 0 { break } // shorter than fstat said
            filled += count
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    private static func writeAll(_ bytes: [UInt8], to file: Int32, at offset: Int, path: String) throws(BrokerError) {
        var written = 0
        while written < bytes.count {
            let count = try system(path, "write") {
                bytes.withUnsafeBytes { buffer in
                    pwrite(file, buffer.baseAddress.map { $0 + written }, buffer.count - written, off_t(offset + written))
                }
            }
            // A regular file takes at least one byte or fails; 0 would loop for ever.
            guard count > 0 else { throw .storageFailed(path: path, operation: "write", Errno(rawValue: EIO)) }
            written += count
        }
    }

    private static func closeDescriptor(_ descriptor: Int32) {
        guard descriptor >= 0 else { return }
        // No retry: Linux releases the descriptor even when close reports EINTR.
        _ = try? checkedSyscall(retryOnInterrupt: false) { Glibc.close(descriptor) }
    }

    /// A syscall through `checkedSyscall` (EINTR retried), its failure named by path and operation.
    @discardableResult
    private static func system<Result: BinaryInteger>(
        _ path: String, _ operation: String, _ call: () -> Result
    ) throws(BrokerError) -> Result {
        do throws(Errno) {
            return try checkedSyscall(call)
        } catch {
            throw .storageFailed(path: path, operation: operation, error)
        }
    }
}
