import Glibc

/// A datagram socket standing in for systemd's notification socket: bound at a path in a
/// temporary folder, it receives what a service sends with sd_notify's protocol.
package final class NotifySocket {
    package let path: String
    private let descriptor: Int32

    package init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw NotifySocketError.failed("socket", errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        // An abstract name (a leading NUL) is exactly the bytes the length covers.
        let length = path.hasPrefix("\0") ? MemoryLayout<sa_family_t>.size + path.utf8.count : MemoryLayout<sockaddr_un>.size
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw NotifySocketError.failed("bind", errno)
        }
    }

    deinit {
        close(descriptor)
        if !path.hasPrefix("\0") { unlink(path) }
    }

    /// The next message, or nil if none came within `timeout`.
    package func receive(timeout: Duration = .seconds(20)) -> String? {
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&waiting, 1, milliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// Messages until one satisfies `condition` (returned), or nil after `timeout` in all.
    package func receive(until condition: (String) -> Bool, timeout: Duration = .seconds(20)) -> String? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            guard let message = receive(timeout: ContinuousClock.now.duration(to: deadline)) else { return nil }
            if condition(message) { return message }
        }
        return nil
    }
}

package enum NotifySocketError: Error {
    case failed(String, Int32)
}
