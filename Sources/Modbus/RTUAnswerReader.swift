import POSIX

/// Reads one RTU answer off a serial line (or a device server's socket), keeping every byte for
/// `RTUAnswer.check`.
///
/// It frames the answer as libmodbus does (the response timeout for the first byte, the byte
/// timeout between bytes, the length announced by the function code and byte count), and then
/// waits out the inter-frame silence: a frame ends with t3.5 of quiet (Modbus over Serial Line
/// §2.5.1.1), so bytes arriving before that belong to this turn and not to the next answer.
/// That wait is the silence the bus keeps before its next frame anyway, so it costs no time.
/// The buffers are kept from one answer to the next.
final class RTUAnswerReader {
    /// Everything read for the last answer, up to `byteLimit`.
    private(set) var bytes: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 256)
    /// Twice the longest RTU frame (256 bytes): enough to name what is wrong with a babbling
    /// device's answer; the drain before the next request drops the rest.
    static let byteLimit = 512

    let responseTimeout: Duration
    let byteTimeout: Duration
    let silence: Duration

    init(responseTimeout: Duration, byteTimeout: Duration, silence: Duration) {
        self.responseTimeout = responseTimeout
        self.byteTimeout = byteTimeout
        self.silence = silence
    }

    /// Reads the answer to a request sent at `sentAt`. Returns when its last byte came (nil:
    /// none came); `bytes` holds what was read.
    func receive(on line: any LineByteSource, sentAt: ContinuousClock.Instant) throws(Errno) -> ContinuousClock.Instant? {
        let clock = ContinuousClock()
        bytes.removeAll(keepingCapacity: true)
        var lastByteAt: ContinuousClock.Instant?
        while bytes.count < Self.byteLimit {
            let wait: Duration
            if let last = lastByteAt {
                if let announced = RTUAnswer.announcedLength(bytes), bytes.count >= announced,
                   ModbusPDU.hasValidCRC(bytes[0..<announced]) {
                    // A whole frame: anything arriving within t3.5 of its end is a stray tail.
                    sleepThread(clock.now.duration(to: last.advanced(by: silence)))
                    wait = .zero
                } else {
                    // Inside a frame, or a frame that does not check out: its rest (a header that
                    // lies about the length, say) comes within the byte timeout.
                    wait = clock.now.duration(to: last.advanced(by: byteTimeout))
                    if wait <= .zero { break }
                }
            } else {
                wait = clock.now.duration(to: sentAt.advanced(by: responseTimeout))
                if wait <= .zero { break }
            }
            let count = try line.readBytes(into: &chunk, waitingAtMost: wait)
            if count == 0 {
                if wait == .zero { break }
                continue
            }
            bytes.append(contentsOf: chunk[0..<min(count, Self.byteLimit - bytes.count)])
            lastByteAt = clock.now
        }
        return lastByteAt
    }
}
