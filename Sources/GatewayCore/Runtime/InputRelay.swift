import Synchronization

/// The receiving half a channel shares: messages that come before a handler is set wait here
/// (as a retained `config` replayed at subscription does), and nothing passes after `close`.
package final class InputRelay: Sendable {
    private enum State {
        case waiting([DeviceInput])
        case handing(@Sendable (DeviceInput) -> Void)
        case closed
    }

    private let state = Mutex(State.waiting([]))

    package init() {}

    /// Hands `input` to the handler, or keeps it until one is set.
    package func pass(_ input: DeviceInput) {
        // The handler runs under the lock so that a message cannot overtake the ones kept before
        // it; it only enqueues, so the lock is held briefly and nothing it calls comes back here.
        state.withLock { state in
            switch state {
            case var .waiting(kept):
                kept.append(input)
                state = .waiting(kept)
            case let .handing(handler):
                handler(input)
            case .closed:
                break
            }
        }
    }

    /// Sets the handler and hands it what was kept, in order.
    package func receive(_ handler: @escaping @Sendable (DeviceInput) -> Void) {
        state.withLock { state in
            if case let .waiting(kept) = state { kept.forEach(handler) }
            if case .closed = state { return }
            state = .handing(handler)
        }
    }

    package func close() {
        state.withLock { $0 = .closed }
    }
}
