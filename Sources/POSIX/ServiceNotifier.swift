import Glibc

/// Tells systemd how the service is doing, over the datagram socket it names in `$NOTIFY_SOCKET`
/// (the sd_notify protocol, written directly: one datagram of `KEY=value` lines per message, so
/// no libsystemd). `READY=1` once serving, `RELOADING=1` and `READY=1` around a reload,
/// `STOPPING=1`, and `WATCHDOG=1` at half the `WatchdogSec` systemd gives in `$WATCHDOG_USEC`.
/// The one owner of its socket; safe to use from any thread (each send is one `sendto`).
package final class ServiceNotifier: Sendable {
    /// The socket's address: a path, or an abstract name (written `@name`, sent with a leading NUL).
    package let address: String
    /// How often systemd wants `WATCHDOG=1`; nil when it watches nothing (or another process).
    package let watchdogTimeout: Duration?
    private let descriptor: Int32

    /// The notifier systemd asked for in `environment` (the process's, by default); nil when it
    /// asked for none (not started by systemd with `Type=notify`), or the socket cannot be made.
    package static func fromEnvironment(_ environment: [String: String] = ServiceNotifier.processEnvironment(),
                                        pid: pid_t = getpid()) -> ServiceNotifier? {
        guard let address = environment["NOTIFY_SOCKET"], !address.isEmpty else { return nil }
        var watchdog: Duration?
        if let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 {
            // sd_watchdog_enabled(3): WATCHDOG_PID, when set, names the process being watched.
            if environment["WATCHDOG_PID"].map({ Int32($0) == pid }) ?? true { watchdog = .microseconds(microseconds) }
        }
        return try? ServiceNotifier(address: address, watchdogTimeout: watchdog)
    }

    /// A notifier sending to `address` (a path, or `@name` for an abstract socket).
    package init(address: String, watchdogTimeout: Duration? = nil) throws(Errno) {
        guard address.hasPrefix("/") || address.hasPrefix("@"), address.utf8.count < 108 else { throw Errno(rawValue: EINVAL) }
        self.address = address
        self.watchdogTimeout = watchdogTimeout
        descriptor = try checkedSyscall { socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    }

    deinit { close(descriptor) }

    /// Sends `fields` as one message (`READY=1\nSTATUS=…`); false if systemd could not be told.
    @discardableResult
    package func send(_ fields: [(String, String)]) -> Bool {
        let message = Array(fields.map { "\($0.0)=\($0.1)" }.joined(separator: "\n").utf8)
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // an abstract name starts with NUL
        withUnsafeMutableBytes(of: &target.sun_path) { raw in
            for (index, byte) in path.enumerated() where index < raw.count { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let sent = try? checkedSyscall {
            withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, message, message.count, Int32(MSG_NOSIGNAL), $0, length) }
            }
        }
        return sent == message.count
    }

    /// `READY=1` with a status line systemctl shows.
    @discardableResult
    package func ready(status: String) -> Bool { send([("READY", "1"), ("STATUS", status)]) }

    /// `RELOADING=1` with the monotonic time systemd needs to tell this reload from the next.
    @discardableResult
    package func reloading() -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return send([("RELOADING", "1"), ("MONOTONIC_USEC", String(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000))])
    }

    @discardableResult
    package func stopping() -> Bool { send([("STOPPING", "1")]) }

    @discardableResult
    package func watchdog() -> Bool { send([("WATCHDOG", "1")]) }

    /// The process's environment, as a dictionary.
    package static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
