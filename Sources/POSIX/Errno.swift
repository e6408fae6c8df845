import Glibc

/// A POSIX error number with its symbolic name and message.
package struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    package let rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    package static var current: Errno { Errno(rawValue: errno) }

    /// The symbolic name (`EIO`) where known, else `errno N`.
    package var name: String { Errno.names[rawValue] ?? "errno \(rawValue)" }

    /// The C library's message for this error.
    package var message: String {
        guard let text = strerror(rawValue) else { return "unknown error" }
        return String(cString: text)
    }

    package var description: String { "\(name): \(message)" }

    /// True for the errors a serial adapter gives when it is unplugged or its line hangs up.
    package var meansDeviceGone: Bool {
        [EIO, ENXIO, ENODEV, ENOENT, EBADF].contains(rawValue)
    }

    private static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
        EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EBUSY: "EBUSY",
        ENODEV: "ENODEV", EINVAL: "EINVAL", ENOTTY: "ENOTTY", EPIPE: "EPIPE",
        ENOTSUP: "ENOTSUP", ECONNREFUSED: "ECONNREFUSED", ECONNRESET: "ECONNRESET",
        ETIMEDOUT: "ETIMEDOUT", EHOSTUNREACH: "EHOSTUNREACH", ENETUNREACH: "ENETUNREACH",
        EADDRINUSE: "EADDRINUSE", EADDRNOTAVAIL: "EADDRNOTAVAIL", ENOTCONN: "ENOTCONN",
        ELOOP: "ELOOP", ENAMETOOLONG: "ENAMETOOLONG",
    ]
}

/// Calls a system function that returns -1 and sets `errno` on failure, retrying on `EINTR`.
///
/// The one place where interrupted calls are handled: every syscall of the Serial and Modbus
/// modules goes through here. `close` must pass `retryOnInterrupt: false` (Linux releases the
/// descriptor even when `close` reports `EINTR`).
@inline(__always)
package func checkedSyscall<Result: BinaryInteger>(
    retryOnInterrupt: Bool = true,
    _ call: () -> Result
) throws(Errno) -> Result {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = Errno.current
        if retryOnInterrupt && error.rawValue == EINTR { continue }
        throw error
    }
}
