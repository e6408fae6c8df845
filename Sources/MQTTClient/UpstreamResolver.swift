import POSIX

/// Resolves link host names with getaddrinfo on a thread of its own, one at a time, so the
/// upstream loop never waits for DNS; each answer goes back through the loop's mailbox.
final class UpstreamResolver: Sendable {
    private struct State {
        var requests: [(link: UInt64, host: String, port: UInt16)] = []
        var stopped = false
    }

    private let state = ConditionLock(State())
    private let thread: DedicatedThread

    init(mailbox: UpstreamMailbox) throws(Errno) {
        let state = self.state
        thread = try DedicatedThread(name: "mqtt-resolver") {
            while let request = state.wait(until: nil, { state -> (UInt64, String, UInt16)?? in
                if state.stopped { return .some(nil) }
                guard !state.requests.isEmpty else { return nil }
                return state.requests.removeFirst()
            }) ?? nil {
                let answer = Socket.resolveAddresses(host: request.1, port: request.2)
                _ = mailbox.send(.resolved(request.0, answer))
            }
        }
    }

    func resolve(link: UInt64, host: String, port: UInt16) {
        state.withLockAndSignal { $0.requests.append((link, host, port)) }
    }

    /// Ends the thread after the lookup in progress (if any); does not wait for it.
    func stop() {
        state.withLockAndSignal { $0.stopped = true }
        thread.detach()
    }
}
