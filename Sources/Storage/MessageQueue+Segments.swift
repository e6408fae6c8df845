// The queue's segment files: replay at open, flushing buffers, starting, deleting and dropping
// segments, and the descriptors it keeps open.

import Glibc
import POSIX

extension MessageQueue {
    /// Opens (creating) the folder, replays segments (torn tails dropped), applies acknowledgements.
    package static func open(directory: String, limits: MessageQueueLimits) throws(StorageError) -> MessageQueue {
        try StorageFiles.makeDirectories(directory)
        let folder = try StorageFiles.system(directory, "open") { Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        // From here the queue owns the folder's descriptor: closing it on a failure is its deinit's.
        let queue = MessageQueue(directory: directory, limits: limits, directoryDescriptor: folder)
        // Two processes appending to one queue would interleave their records.
        try StorageFiles.lock(folder, directory: directory)
        do {
            try queue.replay()
            // Acknowledgements moved off deleted segments, and those deletions, reach the files now.
            try queue.flush()
        } catch {
            queue.abandon()
            throw error
        }
        return queue
    }

    /// pwrite of what was buffered (appends and acknowledgement records): after it, survives kill -9.
    /// Also creates new segment files and unlinks those that went (after the writes that made
    /// them unneeded).
    package func flush() throws(StorageError) {
        guard !isClosed else { throw .failed(path: directory, operation: "flush", Errno(rawValue: EBADF)) }
        if !pendingAcknowledgements.isEmpty {
            if segments.isEmpty {
                pendingAcknowledgements.removeAll() // nothing left they could be about
            } else {
                let segment = writeSegment ?? startSegment()
                let before = segment.pending.count
                QueueSegment.appendAcknowledgements(to: &segment.pending, pendingAcknowledgements.ranges)
                totalBytes += segment.pending.count - before
                let lowest = pendingAcknowledgements.ranges[0].lowerBound
                segment.lowestAcknowledgementStored = min(segment.lowestAcknowledgementStored ?? lowest, lowest)
                pendingAcknowledgements.removeAll()
            }
        }
        for segment in segments where !segment.pending.isEmpty {
            try write(segment)
        }
        while let segment = pendingRemovals.first {
            Self.closeDescriptor(&segment.descriptor)
            do throws(Errno) {
                _ = try checkedSyscall { unlink(segment.path) }
            } catch {
                guard error.rawValue == ENOENT else { throw .failed(path: segment.path, operation: "unlink", error) }
            }
            pendingRemovals.removeFirst()
            directoryNeedsSync = true
        }
    }

    /// Closes every descriptor without writing anything: a failed open leaves the files as they were.
    private func abandon() {
        for segment in segments + pendingRemovals { Self.closeDescriptor(&segment.descriptor) }
        Self.closeDescriptor(&directoryDescriptor)
        isClosed = true
    }

    // MARK: - Segments

    /// Whether a record of `recordBytes` must start a new segment.
    func needsNewSegment(for recordBytes: Int) -> Bool {
        guard let segment = writeSegment else { return true }
        if segment.first &+ UInt64(segment.messageCount) != lastSequence &+ 1 { return true } // numbering moved past it
        return segment.size > QueueSegment.headerBytes && segment.size + recordBytes > segmentLimit
    }

    /// A new write segment named after the next sequence; its file is created by the next flush.
    @discardableResult
    func startSegment() -> QueueSegment {
        let segment = QueueSegment(first: lastSequence + 1, directory: directory, created: false, written: 0)
        segment.pending = QueueSegment.format.header
        totalBytes += segment.pending.count
        segments.append(segment)
        writeSegment = segment
        return segment
    }

    /// Drops whole oldest segments, unacknowledged messages and all, until `recordBytes` more fit
    /// in maximumBytes (or nothing is left).
    func enforceByteBound(adding recordBytes: Int) {
        var dropped = QueueDrops(count: 0, bytes: 0, reason: "maxBytes")
        while totalBytes + recordBytes > limits.maximumBytes, let oldest = segments.first {
            dropped.count += oldest.unacknowledged
            dropped.bytes += oldest.size
            count -= oldest.unacknowledged
            if oldest === writeSegment { writeSegment = nil }
            remove(oldest)
        }
        if dropped.count > 0 { record(dropped) }
    }

    /// Deletes a segment whose messages are all acknowledged. Acknowledgement records it holds for
    /// older segments' messages would go with its file, so those segments' acknowledgements are
    /// written again (into the write segment, at the next flush).
    func delete(_ segment: QueueSegment) {
        if let lowest = segment.lowestAcknowledgementStored {
            for older in segments where older.first < segment.first && older.messageCount > 0 && older.last >= lowest {
                pendingAcknowledgements.formUnion(older.acknowledged)
            }
        }
        remove(segment)
    }

    /// Takes a segment out of the queue; the next flush closes and unlinks its file.
    private func remove(_ segment: QueueSegment) {
        guard let index = segments.firstIndex(where: { $0 === segment }) else { return }
        segments.remove(at: index)
        totalBytes -= segment.size
        segment.pending = []
        segment.needsSync = false
        cursors.removeAll { $0.segment == segment.first }
        oldestCache = nil
        if segment.created { pendingRemovals.append(segment) }
    }

    /// pwrite of a segment's buffered records at the end of its whole records, creating the file first if new.
    private func write(_ segment: QueueSegment) throws(StorageError) {
        if !segment.created {
            segment.descriptor = try StorageFiles.system(segment.path, "create") {
                Glibc.open(segment.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            }
            segment.created = true
            directoryNeedsSync = true
        }
        let descriptor = try descriptor(for: segment)
        do {
            // At the end of the last whole record: a retry rewrites the same bytes there.
            try StorageFiles.writeAll(segment.pending, to: descriptor, at: segment.written, path: segment.path)
        } catch {
            // Cut a partial write back to the last whole record, so the file stays valid meanwhile.
            _ = try? StorageFiles.system(segment.path, "ftruncate") { ftruncate(descriptor, off_t(segment.written)) }
            throw error
        }
        segment.written += segment.pending.count
        segment.pending.removeAll(keepingCapacity: segment.pending.count <= 1 << 20)
        segment.needsSync = true
    }

    // MARK: - Descriptors

    /// The segment's descriptor, opened if it was closed.
    func descriptor(for segment: QueueSegment) throws(StorageError) -> Int32 {
        useCounter += 1
        segment.lastUse = useCounter
        if segment.descriptor < 0 {
            segment.descriptor = try StorageFiles.system(segment.path, "open") { Glibc.open(segment.path, O_RDWR | O_CLOEXEC) }
        }
        return segment.descriptor
    }

    /// Closes read descriptors past the few most recently used (never the write segment's, nor one
    /// with writes to sync), so a long backlog does not hold a descriptor per segment.
    func closeIdleDescriptors() {
        let idle = segments.filter {
            $0.descriptor >= 0 && $0 !== writeSegment && !$0.needsSync && $0.pending.isEmpty
        }
        guard idle.count > Self.idleDescriptorLimit else { return }
        for segment in idle.sorted(by: { $0.lastUse < $1.lastUse }).dropLast(Self.idleDescriptorLimit) {
            Self.closeDescriptor(&segment.descriptor)
        }
    }

    static func closeDescriptor(_ descriptor: inout Int32) {
        StorageFiles.closeDescriptor(descriptor)
        descriptor = -1
    }

    /// A copy of `descriptor` (close-on-exec) for a sync request, nil if the system refused one.
    static func duplicate(_ descriptor: Int32) -> Int32? {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        return copy >= 0 ? copy : nil
    }

    // MARK: - Replay

    /// Reads every segment file of the folder, oldest first: messages (their sequences without
    /// gaps from the file's name), acknowledgements (applied to all segments afterwards), a bad
    /// tail cut (in the last segment, which is written to again) or left unread (in another).
    func replay() throws(StorageError) {
        var acknowledged = SequenceRanges()
        let files = try segmentFiles()
        for (position, (first, path)) in files.enumerated() {
            let descriptor = try StorageFiles.system(path, "open") { Glibc.open(path, O_RDWR | O_CLOEXEC) }
            let isLast = position == files.count - 1
            let segment: QueueSegment?
            do {
                segment = try replaySegment(first: first, path: path, descriptor: descriptor, isLast: isLast, acknowledged: &acknowledged)
            } catch {
                StorageFiles.closeDescriptor(descriptor)
                throw error
            }
            guard let segment else {
                // Not a segment of ours: left alone, and numbering goes past its name.
                StorageFiles.closeDescriptor(descriptor)
                lastSequence = max(lastSequence, first)
                continue
            }
            segments.append(segment)
            lastSequence = max(lastSequence, segment.messageCount > 0 ? segment.last : max(segment.first, 1) - 1)
            if isLast {
                writeSegment = segment
            } else if segment.pending.isEmpty {
                Self.closeDescriptor(&segment.descriptor)
            }
        }
        apply(acknowledged)
        count = segments.reduce(0) { $0 + $1.unacknowledged }
        totalBytes = segments.reduce(0) { $0 + $1.size }
        for segment in segments where segment !== writeSegment && segment.unacknowledged == 0 {
            delete(segment)
        }
        closeIdleDescriptors()
    }

    /// One segment file replayed (its acknowledgements added to `acknowledged`); nil if its header
    /// is not a segment's.
    private func replaySegment(
        first: UInt64, path: String, descriptor: Int32, isLast: Bool, acknowledged: inout SequenceRanges
    ) throws(StorageError) -> QueueSegment? {
        var info = stat()
        try StorageFiles.system(path, "fstat") { fstat(descriptor, &info) }
        let fileBytes = Int(info.st_size)
        let header = QueueSegment.format.header
        let segment = QueueSegment(first: first, directory: directory, created: true, written: header.count)
        segment.descriptor = descriptor
        if fileBytes < header.count {
            // A file created and never written whole: its header is written again (or it goes).
            droppedBytesAtOpen += fileBytes
            segment.written = 0
            segment.pending = header
            return segment
        }
        guard try readHeader(descriptor, path: path) == header else {
            droppedBytesAtOpen += fileBytes
            return nil
        }
        var scanner = SegmentScanner(descriptor: descriptor, path: path, from: header.count, to: fileBytes)
        records: while let record = try scanner.next() {
            switch record {
            case let .message(sequence, enqueuedAt, _):
                // A gap or a repeat is not what the queue wrote: the segment ends before it.
                guard sequence == segment.first &+ UInt64(segment.messageCount) else { break records }
                if segment.messageCount == 0 { segment.firstEnqueuedAt = enqueuedAt }
                segment.messageCount += 1
            case let .acknowledgement(ranges):
                for range in ranges { acknowledged.insert(range) }
                segment.lowestAcknowledgementStored = min(segment.lowestAcknowledgementStored ?? .max, ranges[0].lowerBound)
            }
            segment.written = scanner.offset
        }
        if segment.written < fileBytes {
            droppedBytesAtOpen += fileBytes - segment.written
            if isLast {
                // Appends go on from the last whole record.
                try StorageFiles.system(path, "ftruncate") { ftruncate(descriptor, off_t(segment.written)) }
                segment.needsSync = true
            } else {
                segment.unreadableBytes = fileBytes - segment.written
            }
        }
        return segment
    }

    /// Marks each segment's messages that `acknowledged` names (ranges and segments both in order).
    private func apply(_ acknowledged: SequenceRanges) {
        let ranges = acknowledged.ranges
        var start = 0
        for segment in segments {
            guard let sequences = segment.sequences else { continue }
            while start < ranges.count && ranges[start].upperBound < sequences.lowerBound { start += 1 }
            var index = start
            while index < ranges.count && ranges[index].lowerBound <= sequences.upperBound {
                segment.acknowledged.insert(ranges[index].clamped(to: sequences))
                index += 1
            }
        }
    }

    /// The first 8 bytes of a segment file.
    private func readHeader(_ descriptor: Int32, path: String) throws(StorageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: QueueSegment.headerBytes)
        let count = try StorageFiles.system(path, "read") {
            bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        }
        return Array(bytes[..<count])
    }

    /// The folder's segment files, oldest first (other names are not the queue's business).
    private func segmentFiles() throws(StorageError) -> [(first: UInt64, path: String)] {
        guard let folder = opendir(directory) else { throw .failed(path: directory, operation: "opendir", .current) }
        defer { closedir(folder) }
        guard let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) else { return [] }
        var files: [(first: UInt64, path: String)] = []
        while let entry = readdir(folder) {
            // Read up to the NUL through a pointer: readdir's entry can be shorter than a whole dirent.
            let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
            if let first = QueueSegment.firstSequence(fileName: name) { files.append((first, directory + "/" + name)) }
        }
        return files.sorted { $0.first < $1.first }
    }
}
