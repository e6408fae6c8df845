import Synchronization

/// The receiving half a channel shares: messages that come before a handler is set wait here
/// (as a retained `config` replayed at subscription does), and nothing passes after `close`.
package final class InputRelay: Sendable {
    private enum State {
        case waiting([DeviceInput])
        case handing(@Sendable (DeviceInput) -> Bool)
        case closed
    }

    private let state = Mutex(State.waiting([]))

    package init() {}

    /// Hands `input` to the handler, or keeps it until one is set. False if the handler
    /// dropped it; after `close`, messages are let go without counting as dropped.
    @discardableResult
    package func pass(_ input: DeviceInput) -> Bool {
        // The handler runs under the lock so that a message cannot overtake the ones kept before
        // it; it only enqueues, so the lock is held briefly and nothing it calls comes back here.
        state.withLock { state in
            switch state {
            case var .waiting(kept):
                kept.append(input)
                state = .waiting(kept)
                return true
            case let .handing(handler):
                return handler(input)
            case .closed:
                return true
            }
        }
    }

    /// Sets the handler and hands it what was kept, in order.
    package func receive(_ handler: @escaping @Sendable (DeviceInput) -> Bool) {
        state.withLock { state in
            if case let .waiting(kept) = state { for input in kept { _ = handler(input) } }
            if case .closed = state { return }
            state = .handing(handler)
        }
    }

    package func close() {
        state.withLock { $0 = .closed }
    }
}
