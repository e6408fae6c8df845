/// The framers' buffers: bytes already returned sit before a start index until dropping them
/// moves no more bytes than it frees, so that each byte is moved at most once.
enum ConsumedBytes {
    /// Drops `buffer[..<start]` if that is cheap now; how many bytes were dropped (0: none).
    static func drop(_ buffer: inout [UInt8], before start: Int) -> Int {
        guard start > 0 else { return 0 }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else if start >= buffer.count - start {
            buffer.removeSubrange(0..<start)
        } else {
            return 0
        }
        return start
    }
}
