/// Reads and drops bytes through `read` until nothing came for `quiet`, or `limit` has passed;
/// returns how many were dropped. `read` waits at most the duration given and returns how many
/// bytes it read into the buffer (0: none in time). After a failed transaction on a serial line
/// or a device server's socket, so that a late answer is not taken for the next one.
package func drainUntilQuiet<Failure: Error>(quiet: Duration, limit: Duration,
                                             read: (inout [UInt8], Duration) throws(Failure) -> Int) throws(Failure) -> Int {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: limit)
    var dropped = 0
    var buffer = [UInt8](repeating: 0, count: 256)
    while clock.now < deadline {
        let count = try read(&buffer, max(.milliseconds(1), min(quiet, clock.now.duration(to: deadline))))
        if count == 0 { break }
        dropped += count
    }
    return dropped
}
