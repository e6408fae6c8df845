/// Bytes waiting for a non-blocking socket: appended at the end, sent from `start` on; what the
/// socket does not take now waits for it to become writable again. One per connection (the
/// broker's clients, their TLS records, the upstream links), on its event loop's thread.
package struct OutputBuffer {
    /// A buffer up to this size is kept for the next burst once sent; a bigger one is let go.
    package static let keptCapacity = 65_536

    private var bytes: [UInt8] = []
    /// Where the unsent part begins.
    private var start = 0

    package init() {}

    /// Bytes not yet taken by the socket.
    package var pendingCount: Int { bytes.count - start }
    package var isEmpty: Bool { start == bytes.count }
    /// Memory held, for releasing an idle connection's buffer.
    package var capacity: Int { bytes.capacity }

    /// Appends through `body`, so that packets are encoded in place.
    package mutating func append(_ body: (inout [UInt8]) -> Void) {
        body(&bytes)
    }

    /// Appends `more`; into an empty buffer it is taken as it is, without a copy.
    package mutating func append(contentsOf more: [UInt8]) {
        if isEmpty {
            bytes = more
            start = 0
        } else {
            bytes += more
        }
    }

    /// The unsent bytes, for a writer that transforms them first (TLS encryption); follow with `removeAll()`.
    package func withPendingBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }

    /// Drops every byte, keeping a modest buffer for the next burst.
    package mutating func removeAll() {
        bytes.removeAll(keepingCapacity: bytes.capacity <= Self.keptCapacity)
        start = 0
    }

    /// Gives the memory back (an idle connection with nothing pending).
    package mutating func release() {
        bytes = []
        start = 0
    }

    /// Writes what the socket takes now; true when nothing is left.
    package mutating func write(to socket: Socket) throws(Errno) -> Bool {
        while start < bytes.count {
            let first = start
            let written = try bytes.withUnsafeBytes { buffer in
                Result { () throws(Errno) -> Int in try socket.write(UnsafeRawBufferPointer(rebasing: buffer[first...])) }
            }.get()
            if written == 0 { break }
            start += written
        }
        if start == bytes.count {
            removeAll()
            return true
        }
        // A slow reader: move the unsent tail to the front once the sent part dominates.
        if start > Self.keptCapacity && start * 2 > bytes.count {
            bytes.removeFirst(start)
            start = 0
        }
        return false
    }
}
