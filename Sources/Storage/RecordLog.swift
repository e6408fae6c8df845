// An append-only log of records in a file of its own folder (format: RecordFraming.swift).
//
// Between compactions the file only grows by appends, and a compaction replaces it whole by
// rename, so a crash can leave at most one torn record at the end. Replay stops at the first
// record that is short, fails its CRC or does not decode, and drops everything from there.

import Glibc
import POSIX

/// An append-only log of framed records in a folder; the one owner of its file descriptor. What
/// a record means is the user's: it encodes payloads, and decodes and applies them at replay.
///
/// Used from one thread at a time (the broker's reactor, say). One log per folder: a second
/// `open` of a folder whose log is open (in this process or another) fails with operation "lock".
package final class RecordLog {
    /// The log file's path.
    package let path: String
    private let format: LogFormat
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
    private var syncFailure: StorageError?
    /// Bytes dropped from the end of the file at open (a torn or corrupt tail; 0 after a clean close).
    package private(set) var droppedBytesAtOpen = 0

    private init(directory: String, fileName: String, format: LogFormat, directoryDescriptor: Int32) {
        self.directory = directory
        self.path = directory + "/" + fileName
        self.format = format
        self.directoryDescriptor = directoryDescriptor
    }

    deinit { close() }

    /// Opens (creating the folder and file if needed) `directory/fileName`, replays it into
    /// `initial` through `apply` (false: the payload does not decode, so the log ends before it),
    /// drops a torn or corrupt tail, then compacts the file to the frames `snapshot` writes of the
    /// replayed state.
    package static func open<State>(
        directory: String, fileName: String, format: LogFormat, initial: State,
        apply: (inout State, _ bytes: [UInt8], _ payload: Range<Int>) -> Bool,
        snapshot: (State, inout Frames) -> Void
    ) throws(StorageError) -> (RecordLog, State) {
        try StorageFiles.makeDirectories(directory)
        let folder = try StorageFiles.system(directory, "open") { Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        let log = RecordLog(directory: directory, fileName: fileName, format: format, directoryDescriptor: folder)
        // Two processes appending to one log would interleave their records.
        try StorageFiles.lock(folder, directory: directory)
        let bytes = try StorageFiles.readFile(log.path)
        var state = initial
        let end = try replay(bytes, format: format, path: log.path) { apply(&state, bytes, $0) }
        log.droppedBytesAtOpen = bytes.count - end
        // The rewrite leaves the torn tail out (truncating it, in effect); the old file stays until the new one is whole.
        try log.compact { snapshot(state, &$0) }
        return (log, state)
    }

    /// Buffers a record whose payload `encodePayload` appends (no syscall).
    package func append(_ encodePayload: (inout [UInt8]) -> Void) {
        Frames.appendFrame(to: &buffer, encodePayload)
    }

    /// Writes buffered records (one pwrite when possible); then they survive a kill -9 of the process. On failure they stay buffered for the next flush.
    package func flush() throws(StorageError) {
        guard !buffer.isEmpty else { return }
        do {
            // pwrite at the end of the last whole record: a retry rewrites the same bytes there.
            try StorageFiles.writeAll(buffer, to: descriptor, at: size, path: path)
        } catch {
            // Cut a partial write back to the last whole record, so the file stays valid meanwhile.
            _ = try? StorageFiles.system(path, "ftruncate") { ftruncate(descriptor, off_t(size)) }
            throw error
        }
        size += buffer.count
        // A huge message should not keep its buffer alive for ever.
        buffer.removeAll(keepingCapacity: buffer.count <= 1 << 20)
    }

    /// Flushes, then fsync(2): after this returns, every appended record survives a power loss.
    package func sync() throws(StorageError) {
        if let syncFailure { throw syncFailure }
        try flush()
        do {
            try StorageFiles.system(path, "fsync") { fsync(descriptor) }
            if directoryNeedsSync {
                try StorageFiles.system(directory, "fsync") { fsync(directoryDescriptor) }
                directoryNeedsSync = false
            }
        } catch {
            syncFailure = error
            throw error
        }
    }

    /// Bytes in the file now (not counting buffered records).
    package var fileSize: Int { size }

    /// Rewrites the log as the frames `writeSnapshot` appends, through a fsynced temporary file
    /// renamed over it; the snapshot must include every record appended so far (the buffer is dropped).
    package func compact(_ writeSnapshot: (inout Frames) -> Void) throws(StorageError) {
        guard directoryDescriptor >= 0 else {
            throw .failed(path: path, operation: "compact", Errno(rawValue: EBADF))
        }
        var frames = Frames(after: format.header)
        writeSnapshot(&frames)
        let bytes = frames.bytes
        let temporary = path + ".tmp"
        let file = try StorageFiles.system(temporary, "open") {
            Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        }
        do {
            try StorageFiles.writeAll(bytes, to: file, at: 0, path: temporary)
            // The data must be on disk before the name points at it, or a power loss could leave
            // the log renamed but empty.
            try StorageFiles.system(temporary, "fsync") { fsync(file) }
            try StorageFiles.system(temporary, "rename") { rename(temporary, path) }
        } catch {
            StorageFiles.closeDescriptor(file)
            _ = try? StorageFiles.system(temporary, "unlink") { unlink(temporary) }
            throw error
        }
        // The path now names the new file: append to it, whatever the folder's fsync says.
        StorageFiles.closeDescriptor(descriptor)
        descriptor = file
        size = bytes.count
        buffer.removeAll()
        syncFailure = nil
        directoryNeedsSync = true
        try StorageFiles.system(directory, "fsync") { fsync(directoryDescriptor) }
        directoryNeedsSync = false
    }

    /// Flushes, syncs and closes (releasing the folder's lock). Safe to call twice. Errors are dropped: call sync() first to see them.
    package func close() {
        guard directoryDescriptor >= 0 else { return }
        if descriptor >= 0 { // not when open failed before the first compaction
            try? flush()
            try? sync()
        }
        StorageFiles.closeDescriptor(descriptor)
        descriptor = -1
        StorageFiles.closeDescriptor(directoryDescriptor)
        directoryDescriptor = -1
    }

    // MARK: - Replay

    /// Where the last whole record of a log file's bytes ends, each record's payload handed to
    /// `apply` in order (false stops the replay there).
    static func replay(_ bytes: [UInt8], format: LogFormat, path: String,
                       apply: (Range<Int>) -> Bool) throws(StorageError) -> Int {
        let header = format.header
        guard bytes.count >= header.count else {
            // Empty, or a header cut short: there are no records of ours to lose.
            guard header.starts(with: bytes) else {
                throw .corrupt(path: path, offset: 0, reason: "not a \(format.name)")
            }
            return 0
        }
        guard bytes.starts(with: format.magic) else {
            throw .corrupt(path: path, offset: 0, reason: "not a \(format.name)")
        }
        let version = Frames.uint32(in: bytes, at: format.magic.count) ?? 0
        guard version == format.version else {
            throw .corrupt(path: path, offset: format.magic.count, reason: "format version \(version), expected \(format.version)")
        }
        var end = header.count
        while let found = Frames.frame(in: bytes, at: end), apply(found.payload) {
            end = found.next
        }
        return end
    }
}
