// The broker's log file: a Storage record log (format: Sources/Storage/RecordFraming.swift) with
// magic "MBWL", format version 1, whose payloads are StoreRecords.
//
// A payload is one StoreRecord (see StoreRecord.swift): a type byte, then its fields: strings as
// UInt16 length + UTF-8, packet identifiers as UInt16, QoS and retain flag as one byte each,
// message payloads as UInt32 length + bytes. A payload decodes only if it is used up exactly;
// one that does not ends the replay like a torn record.

import Storage

/// An append-only log of StoreRecords in a folder.
///
/// Used from one thread at a time (the broker's reactor). One log per folder: a second `open`
/// of a folder whose log is open (in this process or another) fails with operation "lock".
package final class WriteAheadLog {
    /// The log's file name in its folder.
    package static let fileName = "broker.wal"
    static let format = LogFormat(magic: "MBWL", version: 1, name: "modbridge broker log")
    static let header: [UInt8] = format.header

    private let log: RecordLog

    /// The log file's path.
    package var path: String { log.path }
    /// Bytes dropped from the end of the file at open (a torn or corrupt tail; 0 after a clean close).
    package var droppedBytesAtOpen: Int { log.droppedBytesAtOpen }
    /// Bytes in the file now (not counting buffered records).
    package var fileSize: Int { log.fileSize }

    private init(log: RecordLog) {
        self.log = log
    }

    /// Opens (creating the folder and file if needed) `directory/broker.wal`, replays it, drops a torn or corrupt tail, then compacts it to a snapshot of the replayed state.
    package static func open(directory: String) throws(BrokerError) -> (WriteAheadLog, DurableState) {
        do throws(StorageError) {
            let (log, state) = try RecordLog.open(
                directory: directory, fileName: fileName, format: format, initial: DurableState(),
                apply: { state, bytes, payload in
                    guard let record = StoreRecord.decode(bytes, in: payload) else { return false }
                    state.apply(record)
                    return true
                },
                snapshot: { state, frames in Self.write(state, to: &frames) })
            return (WriteAheadLog(log: log), state)
        } catch {
            throw BrokerError(error)
        }
    }

    /// Buffers a record (no syscall).
    package func append(_ record: StoreRecord) {
        log.append { record.encode(into: &$0) }
    }

    /// Writes buffered records (one pwrite when possible); then they survive a kill -9 of the process. On failure they stay buffered for the next flush.
    package func flush() throws(BrokerError) {
        do throws(StorageError) { try log.flush() } catch { throw BrokerError(error) }
    }

    /// Flushes, then fsync(2): after this returns, every appended record survives a power loss.
    /// After a failed fsync every later sync fails too, until a compaction rewrites the file.
    package func sync() throws(BrokerError) {
        do throws(StorageError) { try log.sync() } catch { throw BrokerError(error) }
    }

    /// Rewrites the log as `state.snapshotRecords()` through a fsynced temporary file renamed over it; `state` must include every record appended so far (the buffer is dropped).
    package func compact(to state: DurableState) throws(BrokerError) {
        do throws(StorageError) {
            try log.compact { Self.write(state, to: &$0) }
        } catch {
            throw BrokerError(error)
        }
    }

    /// Flushes, syncs and closes (releasing the folder's lock). Safe to call twice. Errors are dropped: call sync() first to see them.
    package func close() {
        log.close()
    }

    /// Appends `record` framed: length, payload, CRC-32 of the payload.
    static func appendFrame(_ record: StoreRecord, to bytes: inout [UInt8]) {
        Frames.appendFrame(to: &bytes) { record.encode(into: &$0) }
    }

    /// The record framed at `offset`, and where the next frame starts; nil if it is not whole and valid.
    static func frame(in bytes: [UInt8], at offset: Int) -> (record: StoreRecord, next: Int)? {
        guard let found = Frames.frame(in: bytes, at: offset),
              let record = StoreRecord.decode(bytes, in: found.payload) else { return nil }
        return (record, found.next)
    }

    private static func write(_ state: DurableState, to frames: inout Frames) {
        for record in state.snapshotRecords() {
            frames.append { record.encode(into: &$0) }
        }
    }
}

extension BrokerError {
    /// The broker's name for a storage failure (the same path, operation, offset and reason).
    init(_ error: StorageError) {
        switch error {
        case let .failed(path, operation, errno): self = .storageFailed(path: path, operation: operation, errno)
        case let .corrupt(path, offset, reason): self = .storageCorrupt(path: path, offset: offset, reason: reason)
        }
    }
}
