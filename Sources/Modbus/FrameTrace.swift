import Synchronization

/// One request and its answer as the line carried them, for a frame trace. Filled by whoever
/// knows the bytes: the bus (RTU: the frame sent and every byte `RTUAnswerReader` read), the
/// simulator (what it received and answered), or a future framer (ASCII, RTU over TCP).
package struct FrameExchange: Sendable, Equatable {
    /// Whether the bytes are whole frames on the wire, or rebuilt at PDU level (unit id + PDU,
    /// without MBAP header or checksum) where libmodbus keeps the wire bytes to itself (Modbus TCP).
    package enum Level: String, Sendable {
        case adu, pdu
    }

    package var unit: UInt8
    package var functionCode: UInt8
    /// The request; for the simulator, the request it received.
    package var request: [UInt8]
    /// Every byte read back (empty: none came); for the simulator, what it answered.
    package var answer: [UInt8]
    package var startedAt: ContinuousClock.Instant
    package var endedAt: ContinuousClock.Instant
    /// `ok`, `exception 02`, `timeout`, `crc`, `invalid`, `io`, `ignored`: how it ended.
    package var outcome: String
    package var level: Level

    package init(unit: UInt8, functionCode: UInt8, request: [UInt8], answer: [UInt8], startedAt: ContinuousClock.Instant,
                 endedAt: ContinuousClock.Instant, outcome: String, level: Level = .adu) {
        self.unit = unit
        self.functionCode = functionCode
        self.request = request
        self.answer = answer
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.outcome = outcome
        self.level = level
    }

    /// The short outcome word for a transaction's result.
    package static func outcome(of result: Result<ModbusResponse, ModbusError>) -> String {
        guard case let .failure(error) = result else { return "ok" }
        switch error.kind {
        case let .exception(code): return "exception \(AnswerDecoder.hex(code.rawValue))"
        case .timeout: return "timeout"
        case .crcMismatch: return "crc"
        case .lrcMismatch: return "lrc"
        case .invalidFrame: return "invalid"
        case .io, .connectFailed, .linkClosed: return "io"
        case .invalidRequest: return "refused"
        }
    }

    /// `01 03 00 00 00 01 84 0A`.
    package static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits: [Character] = Array("0123456789ABCDEF")
        var text = ""
        text.reserveCapacity(bytes.count * 3)
        for (index, byte) in bytes.enumerated() {
            if index > 0 { text.append(" ") }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}

/// A bus's frame trace: on or off (for a while), and bounded in rate so that a fast line cannot
/// flood the log. Exchanges go to `sink` at most `linesPerSecond` a second; the rest are counted
/// and reported as one `.suppressed` line when the next second starts (or at `flush()`).
/// Safe to use from any thread: the bus thread records, a command switches it.
package final class FrameTrace: Sendable {
    /// What the trace hands its sink.
    package enum Line: Sendable {
        /// One exchange; `sinceStart` counts from the trace's creation.
        case frame(FrameExchange, sinceStart: Duration)
        /// `count` exchanges were not traced for the rate bound.
        case suppressed(count: Int)
        /// The trace was switched on (`until` nil: until switched off) or off.
        case switched(on: Bool, until: Duration?)
    }

    package let linesPerSecond: Int
    private let sink: @Sendable (Line) -> Void
    private let origin: ContinuousClock.Instant
    private let state: Mutex<State>

    private struct State {
        var on: Bool
        /// When a timed trace switches itself off.
        var until: ContinuousClock.Instant?
        var windowStart: ContinuousClock.Instant?
        var linesInWindow = 0
        var suppressed = 0
    }

    /// A trace, on from the start if `on`, writing at most `linesPerSecond` lines a second to `sink`.
    package init(on: Bool = true, linesPerSecond: Int = 50, origin: ContinuousClock.Instant = .now,
                 sink: @escaping @Sendable (Line) -> Void) {
        self.linesPerSecond = max(1, linesPerSecond)
        self.sink = sink
        self.origin = origin
        state = Mutex(State(on: on))
    }

    /// Whether exchanges are traced at `now` (a timed trace past its end is off).
    package func isOn(at now: ContinuousClock.Instant = .now) -> Bool {
        let (on, expired) = state.withLock { state -> (Bool, Bool) in
            guard state.on else { return (false, false) }
            if let until = state.until, now >= until {
                state.on = false
                state.until = nil
                return (false, true)
            }
            return (true, false)
        }
        if expired {
            flush()
            sink(.switched(on: false, until: nil))
        }
        return on
    }

    /// Switches the trace on, for `duration` (nil: until switched off), or off.
    package func switchOn(_ on: Bool, for duration: Duration? = nil, now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            state.on = on
            state.until = on ? duration.map { now.advanced(by: $0) } : nil
        }
        if !on { flush() }
        sink(.switched(on: on, until: on ? duration : nil))
    }

    /// Traces `exchange` if the trace is on and the rate bound allows; its `endedAt` is its time.
    package func record(_ exchange: FrameExchange) {
        guard isOn(at: exchange.endedAt) else { return }
        let now = exchange.endedAt
        let (write, suppressedBefore) = state.withLock { state -> (Bool, Int) in
            var suppressedBefore = 0
            if let start = state.windowStart, now < start.advanced(by: .seconds(1)) {
                if state.linesInWindow >= linesPerSecond {
                    state.suppressed += 1
                    return (false, 0)
                }
            } else {
                suppressedBefore = state.suppressed
                state.suppressed = 0
                state.windowStart = now
                state.linesInWindow = 0
            }
            state.linesInWindow += 1
            return (true, suppressedBefore)
        }
        if suppressedBefore > 0 { sink(.suppressed(count: suppressedBefore)) }
        if write { sink(.frame(exchange, sinceStart: origin.duration(to: exchange.startedAt))) }
    }

    /// Reports exchanges suppressed and not yet reported (at the end of a command, when switched off).
    package func flush() {
        let count = state.withLock { state -> Int in
            defer { state.suppressed = 0 }
            return state.suppressed
        }
        if count > 0 { sink(.suppressed(count: count)) }
    }
}
