import CSystem
import Glibc

/// An eventfd that wakes a thread waiting in poll or epoll (`Epoll`): another thread calls `signal()`.
/// One descriptor with an 8-byte counter: cheaper to signal than a pipe, and one read empties it.
package final class Wakeup: Sendable {
    /// Poll this for POLLIN (readable while signalled and not yet drained).
    package let descriptor: Int32

    package init() throws(Errno) {
        descriptor = try checkedSyscall { modbridge_eventfd() }
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Wakes the poller (the counter only grows; it cannot fill up in practice).
    package func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(descriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Resets the counter after waking: a single read takes every signal since the last one.
    package func drain() {
        var count: UInt64 = 0
        _ = Glibc.read(descriptor, &count, MemoryLayout<UInt64>.size)
    }
}
