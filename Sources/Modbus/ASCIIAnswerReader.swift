import POSIX

/// Reads one Modbus ASCII answer off a serial line (Modbus over Serial Line §2.5.2.1).
///
/// It waits the response timeout for `:`, then at most the byte timeout (the inter-character
/// timeout) between two characters, until CR LF. Bytes before `:` belong to no frame: they are
/// dropped and counted as stray. A `:` inside a frame starts a new one, as the specification
/// says, and what came before it is stray too. The buffers are kept from one answer to the next.
final class ASCIIAnswerReader {
    /// How a read ended.
    enum Ending: Equatable {
        /// `:` ... CR LF came; `characters` holds what is between them.
        case frame
        /// No `:` came within the response timeout.
        case noStart
        /// The frame started and then a character was late: cut short.
        case cutShort
        /// More characters than the longest frame has, and no CR LF.
        case tooLong
    }

    /// The characters between `:` and CR LF of the last frame (or of the part that came).
    private(set) var characters: [UInt8] = []
    /// Bytes read for the last answer that belonged to no frame.
    private(set) var strayBytes = 0
    private var chunk = [UInt8](repeating: 0, count: 256)

    let responseTimeout: Duration
    let byteTimeout: Duration

    init(responseTimeout: Duration, byteTimeout: Duration) {
        self.responseTimeout = responseTimeout
        self.byteTimeout = byteTimeout
    }

    /// Reads the answer to a request sent at `sentAt`: how it ended, and when its last byte came.
    func receive(on line: any LineByteSource, sentAt: ContinuousClock.Instant) throws(Errno) -> (Ending, lastByteAt: ContinuousClock.Instant?) {
        let clock = ContinuousClock()
        characters.removeAll(keepingCapacity: true)
        strayBytes = 0
        var started = false
        var lastByteAt: ContinuousClock.Instant?
        while true {
            let wait = started
                ? clock.now.duration(to: (lastByteAt ?? sentAt).advanced(by: byteTimeout))
                : clock.now.duration(to: sentAt.advanced(by: responseTimeout))
            if wait <= .zero { return (started ? .cutShort : .noStart, lastByteAt) }
            let count = try line.readBytes(into: &chunk, waitingAtMost: wait)
            if count == 0 { continue }
            let now = clock.now
            for index in 0..<count {
                let byte = chunk[index]
                if byte == ASCIIFrame.start {
                    // A new frame starts; a frame under way is abandoned (§2.5.2.1).
                    if started { strayBytes += characters.count + 1 }
                    characters.removeAll(keepingCapacity: true)
                    started = true
                    lastByteAt = now
                } else if !started {
                    strayBytes += 1
                } else if byte == ASCIIFrame.lineFeed && characters.last == ASCIIFrame.carriageReturn {
                    characters.removeLast()
                    // Whatever came in the same read after LF followed the frame: stray.
                    strayBytes += count - index - 1
                    return (.frame, now)
                } else {
                    characters.append(byte)
                    lastByteAt = now
                    // The longest frame plus CR: one more character can only be too many.
                    if characters.count > ASCIIFrame.characterLimit + 1 { return (.tooLong, now) }
                }
            }
        }
    }
}
