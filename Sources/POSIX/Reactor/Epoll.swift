import CSystem
import Glibc

/// An epoll instance, the one owner of its descriptor: the event loop of the broker's reactor
/// (and of any other loop in the project). Level-triggered: a descriptor with data left unread
/// is reported again. Used by one thread at a time (the loop's own).
package final class Epoll {
    /// Readiness of one registered descriptor.
    package struct Interest: OptionSet {
        package let rawValue: UInt32
        package init(rawValue: UInt32) { self.rawValue = rawValue }
        package static let readable = Interest(rawValue: modbridge_epoll_in())
        package static let writable = Interest(rawValue: modbridge_epoll_out())
    }

    /// One ready descriptor: its token, and whether it can be read, written, or failed.
    package struct Event {
        package let token: UInt64
        package let flags: UInt32

        package var isReadable: Bool { flags & modbridge_epoll_in() != 0 }
        package var isWritable: Bool { flags & modbridge_epoll_out() != 0 }
        /// Error or hang-up: reading tells which (0 bytes or an errno).
        package var isBroken: Bool { flags & (modbridge_epoll_error() | modbridge_epoll_hangup()) != 0 }
    }

    private let descriptor: Int32
    private var tokens = [UInt64](repeating: 0, count: 256)
    private var flags = [UInt32](repeating: 0, count: 256)

    package init() throws(Errno) {
        descriptor = try checkedSyscall { modbridge_epoll_create() }
    }

    deinit { _ = Glibc.close(descriptor) }

    package func add(_ file: Int32, token: UInt64, interest: Interest) throws(Errno) {
        _ = try checkedSyscall { modbridge_epoll_control(descriptor, modbridge_epoll_ctl_add(), file, interest.rawValue, token) }
    }

    package func modify(_ file: Int32, token: UInt64, interest: Interest) throws(Errno) {
        _ = try checkedSyscall { modbridge_epoll_control(descriptor, modbridge_epoll_ctl_mod(), file, interest.rawValue, token) }
    }

    /// Stops watching `file` (closing it does that too; this is for sockets that stay open).
    package func remove(_ file: Int32) {
        _ = modbridge_epoll_control(descriptor, modbridge_epoll_ctl_del(), file, 0, 0)
    }

    /// Waits up to `timeout` (nil: forever); returns how many descriptors are ready, then
    /// `event(at:)` gives each (valid until the next wait; no array is built per turn).
    package func wait(timeout: Duration?) throws(Errno) -> Int {
        let milliseconds = timeout.map { Int32(clamping: max(0, $0.milliseconds)) } ?? -1
        return Int(try checkedSyscall {
            modbridge_epoll_wait(descriptor, &tokens, &flags, Int32(tokens.count), milliseconds)
        })
    }

    package func event(at index: Int) -> Event {
        Event(token: tokens[index], flags: flags[index])
    }
}
