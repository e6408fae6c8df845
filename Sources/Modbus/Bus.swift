import Serial
import POSIX

/// Something that happened to a bus's line, for the log.
package enum BusEvent: Sendable {
    /// The line was opened (or reopened). `rs485` is nil for TCP; `usbLatency` is nil but on a
    /// USB serial adapter.
    case opened(target: String, rs485: RS485Status?, usbLatency: USBLatencyStatus? = nil)
    /// Opening failed; the next attempt comes after `retryIn`.
    case openFailed(ModbusError, retryIn: Duration)
    /// The line failed during a transaction and was closed; it is reopened with backoff.
    case lost(ModbusError)
    /// Bytes followed a good answer to `request` (e.g. `read holding registers 0+10`) from
    /// `unit` before the line went quiet (on Modbus ASCII: came before its `:`, or after its
    /// CR LF in the same read); they were dropped, so the next answer is not taken from them. Noise, a second device on the same unit id, or an adapter's echo. Reported at once,
    /// then at most once a minute: `count` is every stray byte since the last report.
    case strayBytes(count: Int, target: String, unit: UInt8, request: String)
}

/// A snapshot of a bus's health.
package struct BusStatus: Sendable, Equatable {
    /// The line is open now.
    package var isOpen = false
    /// How many times the line has been opened (1 after the first open; more after reopens).
    package var opens = 0
    package var transactions = 0
    package var failures = 0
    /// Failed transactions by kind (counted on the bus thread as each fails): no answer within
    /// the response timeout, an answer with a bad CRC, any other broken answer (an LRC
    /// mismatch, a frame of the wrong length, unit or function).
    package var timeouts = 0
    package var crcErrors = 0
    package var framingErrors = 0
    /// Exception answers, by exception code.
    package var exceptions: [UInt8: Int] = [:]
    /// When the bus thread last made progress: it sets this on every turn of its loop (at least
    /// once a second while idle or waiting to reopen the line) and after every transaction, so an
    /// old instant means the thread is stuck, whatever the devices do.
    package var lastProgress = ContinuousClock.now
    /// Bytes read that belonged to no answer: after a good answer (`BusEvent.strayBytes`), or
    /// drained before the next request after a failed one (a late answer, the rest of a broken one).
    package var strayBytes = 0
    /// The most recent error, of a transaction or of opening the line.
    package var lastError: ModbusError?

    package init() {}

    /// Times the line was opened again after its first open.
    package var reopens: Int { max(0, opens - 1) }

    /// Every exception answer, whatever its code.
    package var exceptionCount: Int { exceptions.values.reduce(0, +) }

    /// Counts a failed transaction by its kind.
    mutating func count(failure error: ModbusError) {
        failures += 1
        lastError = error
        switch error.kind {
        case .timeout: timeouts += 1
        case .crcMismatch: crcErrors += 1
        case .lrcMismatch, .invalidFrame: framingErrors += 1
        case let .exception(code): exceptions[code.rawValue, default: 0] += 1
        case .io, .connectFailed, .linkClosed, .invalidRequest: break
        }
    }
}

/// Where a queued request goes in a bus's order of work.
package enum BusPriority: Sendable {
    /// Writes ahead of everything, reads after the driver's due work (the default).
    case standard
    /// A request passed through from a client of the bus's Modbus TCP server: after queued
    /// writes and a woken driver (the gateway's own commands), before due polls, but never two
    /// in a row while the driver is due (one pass-through, then one driver turn, and so on).
    case passThrough
}

/// One Modbus line (a serial port or a TCP endpoint), owned by one dedicated thread.
///
/// The thread owns the libmodbus context and runs one transaction at a time from a queue:
/// pending writes first, then reads, in the order they came; between them it runs its
/// `BusDriver`, if it has one, whenever the driver is due or woken. Pass-through requests
/// (`BusPriority.passThrough`) take turns with the driver's due work. It keeps the inter-frame
/// silence (plus any per-unit extra delay) and reopens a failed line with backoff while callers
/// keep getting errors instead of waiting. Call `close()` when done; a bus dropped without it
/// stops its thread after the transaction under way, without waiting for it.
package final class Bus: Sendable {
    package let configuration: BusConfiguration
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
        var passThrough: [Job] = []
        var stopping = false
        var stopped = false
        /// The driver is to run now, whatever it said it was due.
        var driverWoken = false
        var status = BusStatus()
        var whenStopped: [@Sendable () -> Void] = []
    }

    /// Starts the bus thread, called `threadName`, which opens the line at once and runs
    /// `driver` (first at once) between queued jobs. While `trace` is on, each transaction's
    /// bytes go to it.
    package init(_ configuration: BusConfiguration, threadName: String = "modbus-bus", driver: (any BusDriver)? = nil,
                trace: FrameTrace? = nil, events: @escaping @Sendable (BusEvent) -> Void = { _ in }) throws(ModbusError) {
        self.configuration = configuration
        let shared = ConditionLock(SharedState())
        self.shared = shared
        do {
            thread = try DedicatedThread(name: threadName) {
                BusLoop(configuration: configuration, shared: shared, driver: driver, events: events, trace: trace).run()
            }
        } catch {
            throw ModbusError(.connectFailed("cannot start the bus thread: \(error)"), target: configuration.target.description)
        }
    }

    deinit {
        shared.withLockAndSignal { $0.stopping = true }
    }

    /// Queues `request` for `unit` at `priority`; `completion` runs on the bus thread when it is
    /// done. A request that breaks a protocol limit fails at once, before anything is sent.
    package func submit(_ request: ModbusRequest, unit: UInt8, priority: BusPriority = .standard,
                       completion: @escaping @Sendable (Result<ModbusResponse, ModbusError>) -> Void) {
        if let refusal = configuration.refusal(of: request, unit: unit) {
            completion(.failure(refusal))
            return
        }
        let target = configuration.target
        let job = Job(request: request, unit: unit, completion: completion)
        let accepted = shared.withLockAndSignal { state -> Bool in
            guard !state.stopping else { return false }
            if priority == .passThrough {
                state.passThrough.append(job)
            } else if request.isWrite {
                state.writes.append(job)
            } else {
                state.reads.append(job)
            }
            return true
        }
        if !accepted {
            completion(.failure(ModbusError(.linkClosed("the bus is closed"), target: target.description)
                .at(unit: unit, request: request)))
        }
    }

    /// Runs `request` on `unit` and returns the answer.
    package func perform(_ request: ModbusRequest, unit: UInt8) async throws(ModbusError) -> ModbusResponse {
        let result = await withCheckedContinuation { continuation in
            submit(request, unit: unit) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Makes the bus thread run its driver as soon as the transaction under way is done.
    package func wakeDriver() {
        shared.withLockAndSignal { $0.driverWoken = true }
    }

    /// The line's health now.
    package var status: BusStatus { shared.withLock { $0.status } }

    /// Stops the thread after the transaction under way, fails what is still queued, closes the line.
    package func close() async {
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

extension BusConfiguration {
    /// Why `request` for `unit` cannot go on this line (it breaks a protocol limit), before
    /// anything is sent; nil if it can.
    func refusal(of request: ModbusRequest, unit: UInt8) -> ModbusError? {
        guard let violation = request.violation(unit: unit, broadcastAllowed: target.allowsBroadcast) else { return nil }
        return ModbusError(.invalidRequest(violation), target: target.description).at(unit: unit, request: request)
    }
}
