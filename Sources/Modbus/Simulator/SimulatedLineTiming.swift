import Serial
import POSIX

/// A real line's timing kept by the simulator on a pty, which itself moves bytes at once: a
/// request counts as received only once its characters would have crossed the line at
/// `settings` (from its first byte), the device waits t3.5 to see that the request ended
/// (Modbus over Serial Line §2.5.1.1) and then its `turnaround`, and its answer is released
/// whole once its characters would have crossed the line. A master on the pty then sees each
/// transaction take the time `CyclePredictor` computes for it (plus its own overheads).
package struct SimulatedLineTiming: Sendable, Equatable {
    package var settings: SerialSettings
    package var turnaround: Duration
    /// RTU: the device waits t3.5 to see a request end; ASCII: its LF ends it (§2.5.2.1).
    package var framing: LineFraming

    package init(settings: SerialSettings, turnaround: Duration = CyclePredictor.defaultTurnaround, framing: LineFraming = .rtu) {
        self.settings = settings
        self.turnaround = turnaround
        self.framing = framing
    }

    private var predictor: CyclePredictor { CyclePredictor(settings: settings, framing: framing) }

    /// When a request of `count` bytes (characters, in ASCII) whose first byte came at `firstByte` has been received.
    func requestReceived(firstByte: ContinuousClock.Instant, count: Int) -> ContinuousClock.Instant {
        firstByte.advanced(by: predictor.transmissionTime(characters: count))
    }

    /// When an answer of `count` bytes to a request received at `received` has crossed the line.
    func answerSent(requestReceived received: ContinuousClock.Instant, count: Int) -> ContinuousClock.Instant {
        received.advanced(by: predictor.endOfRequestGap + turnaround + predictor.transmissionTime(characters: count))
    }

    /// Sleeps the simulator's thread until `instant` (at once if it has passed).
    func wait(until instant: ContinuousClock.Instant) {
        sleepThread(ContinuousClock.now.duration(to: instant))
    }
}
