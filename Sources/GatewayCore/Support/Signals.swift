import Dispatch
import Glibc
import Synchronization

/// SIGINT and SIGTERM, turned into something tasks can wait for, so that lines and sockets
/// are closed before the process ends; and SIGHUP, for commands that reload their config.
final class Signals: Sendable {
    static let shared: Signals = {
        let signals = Signals()
        signals.start()
        return signals
    }()

    private struct State {
        var received: Int32?
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    private init() {}

    private func start() {
        for number in [SIGINT, SIGTERM] {
            // The default action would end the process at once.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in received(number) }
            source.resume()
            installedSignalSources.append(source)
        }
    }

    private func received(_ number: Int32) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.received = number
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Installs the handlers; call early so that a signal during start-up is not lost.
    static func install() { _ = shared }

    /// SIGHUP, one element per signal (instead of ending the process). Call once, early.
    static func hangups() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        hangupSource = source
        return stream
    }

    /// Returns when SIGINT or SIGTERM arrives (or has arrived), or when the task is cancelled.
    func termination() async {
        let id = state.withLock { state -> Int in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.received != nil || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Keeps the handlers installed. Written only by `Signals.start()`, which runs once, inside the
/// thread-safe initialisation of `Signals.shared`.
nonisolated(unsafe) private var installedSignalSources: [any DispatchSourceSignal] = []

/// Keeps the SIGHUP handler installed. Written only by `Signals.hangups()`, which `run` calls once
/// before it starts anything else.
nonisolated(unsafe) private var hangupSource: (any DispatchSourceSignal)?
