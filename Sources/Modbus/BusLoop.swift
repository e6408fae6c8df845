import POSIX

/// The bus thread's loop; everything here runs on that one thread, which owns the line.
final class BusLoop {
    let configuration: BusConfiguration
    private let shared: ConditionLock<Bus.SharedState>
    private let driver: (any BusDriver)?
    private let events: @Sendable (BusEvent) -> Void
    private let trace: FrameTrace?
    private let clock = ContinuousClock()
    private let target: String

    private var connection: ModbusConnection?
    private var reopenDelay: Duration
    private var nextOpenAttempt: ContinuousClock.Instant
    private var lastFrameEnd: ContinuousClock.Instant?
    private var lastUnit: UInt8 = 0
    private var needsResynchronizing = false
    /// When the driver wants to run next (nil: only when woken).
    private var driverDue: ContinuousClock.Instant?
    /// The last turn ran a pass-through request: if the driver is due, it goes next.
    private var passedThroughLast = false
    /// Stray bytes after good answers, reported at once and then once a minute: a device that
    /// always adds bytes would otherwise fill the log at its poll rate.
    private var strayReports = ReportThrottle(interval: .seconds(60))

    /// The longest the thread waits idle before it marks progress again (`BusStatus.lastProgress`).
    static let heartbeatInterval = Duration.seconds(1)

    private enum Next {
        case job(Bus.Job)
        case passThrough(Bus.Job)
        case driver
        case stop
    }

    init(configuration: BusConfiguration, shared: ConditionLock<Bus.SharedState>, driver: (any BusDriver)?,
         events: @escaping @Sendable (BusEvent) -> Void, trace: FrameTrace? = nil) {
        self.configuration = configuration
        self.trace = trace
        self.shared = shared
        self.driver = driver
        self.events = events
        target = configuration.target.description
        reopenDelay = configuration.initialReopenDelay
        nextOpenAttempt = clock.now
        driverDue = driver == nil ? nil : clock.now
    }

    func run() {
        while true {
            if connection == nil && clock.now >= nextOpenAttempt { open() }
            // Woken at least once a heartbeat interval: the wake-up marks progress (health).
            let deadline = earliest(earliest(connection == nil ? nextOpenAttempt : nil, driverDue), clock.now.advanced(by: Self.heartbeatInterval))
            let next = shared.wait(until: deadline) { [driverDue, clock, passedThroughLast] state -> Next? in
                state.status.lastProgress = clock.now
                if state.stopping { return .stop }
                if !state.writes.isEmpty { return .job(state.writes.removeFirst()) }
                // Pass-through after the gateway's commands (a woken driver), before due polls,
                // taking turns with them so that polling goes on (docs/shared-bus.md).
                let driverIsDue = driverDue.map({ $0 <= clock.now }) == true
                if state.driverWoken || (driverIsDue && (state.passThrough.isEmpty || passedThroughLast)) {
                    state.driverWoken = false
                    return .driver
                }
                if !state.passThrough.isEmpty { return .passThrough(state.passThrough.removeFirst()) }
                if !state.reads.isEmpty { return .job(state.reads.removeFirst()) }
                return nil
            }
            switch next {
            case nil: continue  // a deadline passed: reopen the line or run the driver
            case .stop?: finish(); return
            case let .job(job)?: job.completion(execute(job.request, unit: job.unit))
            case let .passThrough(job)?:
                passedThroughLast = true
                job.completion(execute(job.request, unit: job.unit))
            case .driver?:
                passedThroughLast = false
                driverDue = driver?.run(on: BusLine(loop: self), now: clock.now)
            }
        }
    }

    /// The earlier of two optional deadlines (nil if neither is set); no array on every turn.
    private func earliest(_ first: ContinuousClock.Instant?, _ second: ContinuousClock.Instant?) -> ContinuousClock.Instant? {
        guard let first else { return second }
        guard let second else { return first }
        return min(first, second)
    }

    private func open() {
        do {
            let opened = try ModbusConnection.open(configuration)
            connection = opened
            reopenDelay = configuration.initialReopenDelay
            needsResynchronizing = false
            shared.withLock { state in
                state.status.isOpen = true
                state.status.opens += 1
                state.status.lastProgress = clock.now
            }
            events(.opened(target: target, rs485: opened.rs485Status, usbLatency: opened.usbLatency))
        } catch {
            nextOpenAttempt = clock.now.advanced(by: reopenDelay)
            shared.withLock { state in
                state.status.lastError = error
                state.status.lastProgress = clock.now
            }
            events(.openFailed(error, retryIn: reopenDelay))
            reopenDelay = min(reopenDelay * 2, configuration.maximumReopenDelay)
        }
    }

    /// One transaction on the line (or the reason there is none: the line is down).
    func execute(_ request: ModbusRequest, unit: UInt8) -> Result<ModbusResponse, ModbusError> {
        guard let line = connection else {
            let lastError = shared.withLock { $0.status.lastError }
            let retryIn = max(.zero, clock.now.duration(to: nextOpenAttempt)).milliseconds
            let failure: ModbusError.Kind
            if case let .connectFailed(detail)? = lastError?.kind {
                failure = .connectFailed("\(detail); next attempt in \(retryIn) ms")
            } else {
                failure = .linkClosed("line down, next reopen attempt in \(retryIn) ms")
            }
            return .failure(ModbusError(failure, target: target).at(unit: unit, request: request))
        }

        if let lastFrameEnd {
            let silence = configuration.interFrameSilence
            let extra = max(configuration.extraDelayByUnit[lastUnit] ?? .zero, configuration.extraDelayByUnit[unit] ?? .zero)
            sleepThread(clock.now.duration(to: lastFrameEnd.advanced(by: silence + extra)))
        }

        let tracing = trace?.isOn() == true
        line.recordsFrames = tracing
        let startedAt = clock.now
        let result: Result<ModbusResponse, ModbusError>
        var drained = 0
        var answer: ModbusConnection.Answer?
        do {
            if needsResynchronizing {
                drained = try line.resynchronize(quiet: max(configuration.interFrameSilence * 2, .milliseconds(2)))
                needsResynchronizing = false
            }
            if unit == ModbusRequest.Limits.broadcastUnit {
                try line.sendBroadcast(request)
                sleepThread(configuration.broadcastTurnaround)
                result = .success(.written)
            } else {
                let performed = try line.perform(request, unit: unit)
                answer = performed
                result = .success(performed.response)
            }
        } catch {
            result = .failure(error.request == nil ? error.at(unit: unit, request: request) : error)
        }
        // On RTU the silence before the next frame counts from the answer's last byte: the
        // reader has already waited out t3.5 after it, so the next request goes at once.
        lastFrameEnd = answer?.lastByteAt ?? clock.now
        lastUnit = unit
        let strayBytes = answer?.strayBytes ?? 0

        let finishedAt = clock.now
        shared.withLock { state in
            state.status.transactions += 1
            state.status.strayBytes += drained + strayBytes
            state.status.lastProgress = finishedAt
            if case let .failure(error) = result { state.status.count(failure: error) }
        }
        if strayBytes > 0 { reportStrayBytes(strayBytes, unit: unit, request: request) }
        if tracing, let trace { traceExchange(trace, line: line, request: request, unit: unit, result: result, startedAt: startedAt) }
        if case let .failure(error) = result {
            if error.isLinkFailure {
                lose(error)
            } else if leavesLineOutOfStep(error) {
                needsResynchronizing = true
            }
        }
        return result
    }

    /// Hands the transaction's bytes to the trace (a broadcast has no answer to read).
    private func traceExchange(_ trace: FrameTrace, line: ModbusConnection, request: ModbusRequest, unit: UInt8,
                               result: Result<ModbusResponse, ModbusError>, startedAt: ContinuousClock.Instant) {
        var frames = line.lastFrames
        if unit == ModbusRequest.Limits.broadcastUnit {
            frames = FrameBytes(request: ModbusPDU.rtuFrame(unit: unit, pdu: ModbusPDU.encode(request)))
        }
        trace.record(FrameExchange(unit: unit, functionCode: request.functionCode, request: frames.request, answer: frames.answer,
                                   startedAt: startedAt, endedAt: clock.now, outcome: FrameExchange.outcome(of: result),
                                   level: frames.level))
    }

    /// The first stray bytes at once, then at most one event a minute with the bytes since the last.
    private func reportStrayBytes(_ count: Int, unit: UInt8, request: ModbusRequest) {
        guard let bytes = strayReports.report(count, now: clock.now) else { return }
        events(.strayBytes(count: bytes, target: target, unit: unit, request: request.summary))
    }

    private func lose(_ error: ModbusError) {
        connection?.close()
        connection = nil
        nextOpenAttempt = clock.now.advanced(by: reopenDelay)
        shared.withLock { $0.status.isOpen = false }
        events(.lost(error))
    }

    /// Closes the line, fails what is still queued, and lets `close()` return.
    private func finish() {
        trace?.flush()
        connection?.close()
        connection = nil
        let (pending, waiters) = shared.withLock { state -> ([Bus.Job], [@Sendable () -> Void]) in
            state.stopped = true
            state.status.isOpen = false
            let pending = state.writes + state.passThrough + state.reads
            state.writes = []
            state.passThrough = []
            state.reads = []
            let waiters = state.whenStopped
            state.whenStopped = []
            return (pending, waiters)
        }
        for job in pending {
            job.completion(.failure(ModbusError(.linkClosed("the bus is closed"), target: target).at(unit: job.unit, request: job.request)))
        }
        for waiter in waiters { waiter() }
    }

    /// After these, bytes of a late or broken answer may still be on their way. An exception
    /// answer is a complete frame, and a refused request sent nothing: the line is in step.
    private func leavesLineOutOfStep(_ error: ModbusError) -> Bool {
        switch error.kind {
        case .timeout, .crcMismatch, .lrcMismatch, .invalidFrame: true
        default: false
        }
    }
}
