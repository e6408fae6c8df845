import Serial
import POSIX

/// Something that happened to a bus's line, for the log.
public enum BusEvent: Sendable {
    /// The line was opened (or reopened). `rs485` is nil for TCP.
    case opened(target: String, rs485: RS485Status?)
    /// Opening failed; the next attempt comes after `retryIn`.
    case openFailed(ModbusError, retryIn: Duration)
    /// The line failed during a transaction and was closed; it is reopened with backoff.
    case lost(ModbusError)
}

/// A snapshot of a bus's health.
public struct BusStatus: Sendable, Equatable {
    /// The line is open now.
    public var isOpen = false
    /// How many times the line has been opened (1 after the first open; more after reopens).
    public var opens = 0
    public var transactions = 0
    public var failures = 0
    /// The most recent error, of a transaction or of opening the line.
    public var lastError: ModbusError?
}

/// One Modbus line (a serial port or a TCP endpoint), owned by one dedicated thread.
///
/// The thread owns the libmodbus context and runs one transaction at a time from a queue:
/// pending writes first, then reads, in the order they came. It keeps the inter-frame silence
/// (plus any per-unit extra delay) and reopens a failed line with backoff while callers keep
/// getting errors instead of waiting. Call `close()` when done; a bus dropped without it stops
/// its thread after the transaction under way, without waiting for it.
public final class Bus: Sendable {
    public let configuration: BusConfiguration
    private let shared: ConditionLock<SharedState>
    private let thread: DedicatedThread

    struct Job {
        let request: ModbusRequest
        let unit: UInt8
        let completion: @Sendable (Result<ModbusResponse, ModbusError>) -> Void
    }

    struct SharedState {
        var writes: [Job] = []
        var reads: [Job] = []
        var stopping = false
        var stopped = false
        var status = BusStatus()
        var whenStopped: [@Sendable () -> Void] = []
    }

    /// Starts the bus thread, which opens the line at once.
    public init(_ configuration: BusConfiguration, events: @escaping @Sendable (BusEvent) -> Void = { _ in }) throws(ModbusError) {
        self.configuration = configuration
        let shared = ConditionLock(SharedState())
        self.shared = shared
        do {
            thread = try DedicatedThread {
                BusLoop(configuration: configuration, shared: shared, events: events).run()
            }
        } catch {
            throw ModbusError(.connectFailed("cannot start the bus thread: \(error)"), target: configuration.target.description)
        }
    }

    deinit {
        shared.withLockAndSignal { $0.stopping = true }
    }

    /// Queues `request` for `unit`; `completion` runs on the bus thread when it is done.
    /// A request that breaks a protocol limit fails at once, before anything is sent.
    public func submit(_ request: ModbusRequest, unit: UInt8,
                       completion: @escaping @Sendable (Result<ModbusResponse, ModbusError>) -> Void) {
        let target = configuration.target
        if let violation = request.violation(unit: unit, broadcastAllowed: target.allowsBroadcast) {
            completion(.failure(ModbusError(.invalidRequest(violation), target: target.description)
                .at(unit: unit, request: request)))
            return
        }
        let job = Job(request: request, unit: unit, completion: completion)
        let accepted = shared.withLockAndSignal { state -> Bool in
            guard !state.stopping else { return false }
            if request.isWrite { state.writes.append(job) } else { state.reads.append(job) }
            return true
        }
        if !accepted {
            completion(.failure(ModbusError(.linkClosed("the bus is closed"), target: target.description)
                .at(unit: unit, request: request)))
        }
    }

    /// Runs `request` on `unit` and returns the answer.
    public func perform(_ request: ModbusRequest, unit: UInt8) async throws(ModbusError) -> ModbusResponse {
        let result = await withCheckedContinuation { continuation in
            submit(request, unit: unit) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// The line's health now.
    public var status: BusStatus { shared.withLock { $0.status } }

    /// Stops the thread after the transaction under way, fails what is still queued, closes the line.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyStopped = shared.withLockAndSignal { state -> Bool in
                state.stopping = true
                if state.stopped { return true }
                state.whenStopped.append { continuation.resume() }
                return false
            }
            if alreadyStopped { continuation.resume() }
        }
        // The thread has left its loop; joining only reaps it.
        thread.join()
    }
}

/// The bus thread's loop; everything here runs on that one thread.
private struct BusLoop {
    let configuration: BusConfiguration
    let shared: ConditionLock<Bus.SharedState>
    let events: @Sendable (BusEvent) -> Void

    private enum Next {
        case job(Bus.Job)
        case stop
    }

    func run() {
        let clock = ContinuousClock()
        let target = configuration.target.description
        let silence = configuration.interFrameSilence
        var connection: ModbusConnection?
        var reopenDelay = configuration.initialReopenDelay
        var nextOpenAttempt = clock.now
        var lastFrameEnd: ContinuousClock.Instant?
        var lastUnit: UInt8 = 0
        var needsResynchronizing = false

        func lose(_ error: ModbusError) {
            connection?.close()
            connection = nil
            nextOpenAttempt = clock.now.advanced(by: reopenDelay)
            shared.withLock { $0.status.isOpen = false }
            events(.lost(error))
        }

        while true {
            if connection == nil && clock.now >= nextOpenAttempt {
                do {
                    let opened = try ModbusConnection.open(configuration)
                    connection = opened
                    reopenDelay = configuration.initialReopenDelay
                    needsResynchronizing = false
                    shared.withLock { state in
                        state.status.isOpen = true
                        state.status.opens += 1
                    }
                    events(.opened(target: target, rs485: opened.rs485Status))
                } catch {
                    nextOpenAttempt = clock.now.advanced(by: reopenDelay)
                    shared.withLock { $0.status.lastError = error }
                    events(.openFailed(error, retryIn: reopenDelay))
                    reopenDelay = min(reopenDelay * 2, configuration.maximumReopenDelay)
                }
            }

            let next = shared.wait(until: connection == nil ? nextOpenAttempt : nil) { state -> Next? in
                if state.stopping { return .stop }
                if !state.writes.isEmpty { return .job(state.writes.removeFirst()) }
                if !state.reads.isEmpty { return .job(state.reads.removeFirst()) }
                return nil
            }
            guard let next else { continue }  // time to retry opening the line
            guard case let .job(job) = next else { break }

            guard let line = connection else {
                let lastError = shared.withLock { $0.status.lastError }
                let retryIn = max(.zero, clock.now.duration(to: nextOpenAttempt)).milliseconds
                let failure: ModbusError.Kind
                if case let .connectFailed(detail)? = lastError?.kind {
                    failure = .connectFailed("\(detail); next attempt in \(retryIn) ms")
                } else {
                    failure = .linkClosed("line down, next reopen attempt in \(retryIn) ms")
                }
                job.completion(.failure(ModbusError(failure, target: target).at(unit: job.unit, request: job.request)))
                continue
            }

            if let lastFrameEnd {
                let extra = max(configuration.extraDelayByUnit[lastUnit] ?? .zero, configuration.extraDelayByUnit[job.unit] ?? .zero)
                sleepThread(clock.now.duration(to: lastFrameEnd.advanced(by: silence + extra)))
            }

            let result: Result<ModbusResponse, ModbusError>
            do {
                if needsResynchronizing {
                    try line.resynchronize(quiet: max(silence * 2, .milliseconds(2)))
                    needsResynchronizing = false
                }
                if job.unit == ModbusRequest.Limits.broadcastUnit {
                    try line.sendBroadcast(job.request)
                    sleepThread(configuration.broadcastTurnaround)
                    result = .success(.written)
                } else {
                    result = .success(try line.perform(job.request, unit: job.unit))
                }
            } catch {
                result = .failure(error.request == nil ? error.at(unit: job.unit, request: job.request) : error)
            }
            lastFrameEnd = clock.now
            lastUnit = job.unit

            shared.withLock { state in
                state.status.transactions += 1
                if case let .failure(error) = result {
                    state.status.failures += 1
                    state.status.lastError = error
                }
            }
            if case let .failure(error) = result {
                if error.isLinkFailure {
                    lose(error)
                } else if leavesLineOutOfStep(error) {
                    needsResynchronizing = true
                }
            }
            job.completion(result)
        }

        connection?.close()
        let (pending, waiters) = shared.withLock { state -> ([Bus.Job], [@Sendable () -> Void]) in
            state.stopped = true
            state.status.isOpen = false
            let pending = state.writes + state.reads
            state.writes = []
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
        case .timeout, .crcMismatch, .invalidFrame: true
        default: false
        }
    }
}
