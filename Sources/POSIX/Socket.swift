import Glibc

/// A non-blocking TCP socket; the one owner of its descriptor.
package final class Socket {
    package private(set) var descriptor: Int32

    /// Takes ownership of an open descriptor.
    package init(adopting descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close() }

    /// The lowest descriptor number `moveAboveSelectRange()` moves to: select(2), which libmodbus
    /// uses for TCP, cannot watch a descriptor at or above FD_SETSIZE (1024) and glibc aborts the
    /// process if asked to.
    package static let firstDescriptorAboveSelectRange: Int32 = 1024

    /// Moves the descriptor to a number at or above 1024 when the process's limit allows it, so
    /// that thousands of sockets of this kind (a broker's clients, which epoll watches) leave the
    /// numbers below 1024 to what select(2) must watch. Stays where it is otherwise.
    package func moveAboveSelectRange() {
        guard descriptor >= 0, descriptor < Self.firstDescriptorAboveSelectRange else { return }
        let moved = fcntl(descriptor, F_DUPFD_CLOEXEC, Self.firstDescriptorAboveSelectRange)
        guard moved >= 0 else { return }  // EINVAL or EMFILE: the limit is 1024 or every high number is taken
        _ = Glibc.close(descriptor)
        descriptor = moved
    }

    /// Connects to `host`:`port` (name or address, IPv4 or IPv6) within `timeout`.
    package static func connect(host: String, port: UInt16, timeout: Duration) throws(Errno) -> Socket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else { throw Errno(rawValue: status == EAI_SYSTEM ? errno : EHOSTUNREACH) }
        defer { freeaddrinfo(results) }
        var lastError = Errno(rawValue: ECONNREFUSED)
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            do throws(Errno) {
                let socket = Socket(adopting: try checkedSyscall {
                    Glibc.socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                })
                if Glibc.connect(socket.descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == -1 {
                    guard errno == EINPROGRESS else { throw Errno.current }
                    guard try socket.wait(for: Int16(POLLOUT), timeout: timeout) else { throw Errno(rawValue: ETIMEDOUT) }
                    var failure: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    _ = try checkedSyscall { getsockopt(socket.descriptor, SOL_SOCKET, SO_ERROR, &failure, &length) }
                    if failure != 0 { throw Errno(rawValue: failure) }
                }
                socket.setNoDelay()
                return socket
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// A listening socket on `host`:`port` (a numeric IPv4 or IPv6 address, e.g. "127.0.0.1",
    /// "::1", "::"; port 0 picks a free one, see `localPort`).
    package static func listen(host: String, port: UInt16, backlog: Int32 = 1024) throws(Errno) -> Socket {
        guard let (address, length) = socketAddress(host, port: port) else { throw Errno(rawValue: EINVAL) }
        var storage = address
        let family = Int32(storage.ss_family)
        let socket = Socket(adopting: try checkedSyscall {
            Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        })
        var one: Int32 = 1
        _ = setsockopt(socket.descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            // "::" serves IPv6 only, so that "0.0.0.0" can be a listener of its own on the same
            // port (Linux would otherwise take IPv4 on it too and the second bind would fail).
            _ = setsockopt(socket.descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket.descriptor, $0, length) }
        }
        if bound == -1 { throw Errno.current }
        _ = try checkedSyscall { Glibc.listen(socket.descriptor, backlog) }
        return socket
    }

    /// The local port (after `listen` on port 0), IPv4 or IPv6.
    package var localPort: UInt16 {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return withUnsafePointer(to: &address) { pointer in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET6: pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            default: pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
        }
    }

    /// The next pending connection, non-blocking, or nil if none is waiting.
    package func accept() throws(Errno) -> (Socket, String)? {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let accepted: Int32
        do {
            accepted = try checkedSyscall {
                withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(descriptor, $0, &length) }
                }
            }
        } catch {
            if error.rawValue == EAGAIN || error.rawValue == ECONNABORTED { return nil }
            throw error
        }
        let socket = Socket(adopting: accepted)
        _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
        _ = fcntl(accepted, F_SETFL, fcntl(accepted, F_GETFL) | O_NONBLOCK)
        socket.setNoDelay()
        return (socket, Self.describe(&address))
    }

    private static func describe(_ address: inout sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.ss_family) {
        case AF_INET:
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var inner = pointer.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &inner, &text, socklen_t(text.count))
                }
            }
        case AF_INET6:
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var inner = pointer.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &inner, &text, socklen_t(text.count))
                }
            }
        default:
            return "unknown"
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func setNoDelay() {
        var one: Int32 = 1
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Reads what is there into `buffer`: the count, 0 at end of stream, nil if nothing is waiting.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        do {
            return try checkedSyscall { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
        } catch {
            if error.rawValue == EAGAIN { return nil }
            throw error
        }
    }

    /// Writes what the socket takes now: the count written (0 if it is full).
    package func write(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        do {
            return try checkedSyscall { send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
        } catch {
            if error.rawValue == EAGAIN { return 0 }
            throw error
        }
    }

    /// Writes all of `bytes`, waiting while the socket is full (at most `timeout` each time).
    /// MSG_NOSIGNAL: a peer that hung up is an EPIPE error, not a SIGPIPE that ends the process.
    package func writeAll(_ bytes: [UInt8], timeout: Duration = .seconds(5)) throws(Errno) {
        try POSIX.writeAll(bytes, waitingOn: descriptor, timeout: timeout) { send(descriptor, $0, $1, Int32(MSG_NOSIGNAL)) }
    }

    /// Waits until `events` are ready or `timeout` passes; false on timeout.
    package func wait(for events: Int16, timeout: Duration) throws(Errno) -> Bool {
        var waiting = pollfd(fd: descriptor, events: events, revents: 0)
        let ready = try checkedSyscall { poll(&waiting, 1, Int32(clamping: timeout.milliseconds)) }
        return ready > 0
    }

    /// Closes with a reset instead of a graceful end: unsent data is dropped at once (for a peer
    /// that stopped reading, whose unread data would otherwise hold kernel memory).
    package func abort() {
        guard descriptor >= 0 else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    /// Closes the socket. Safe to call more than once.
    package func close() {
        guard descriptor >= 0 else { return }
        _ = Glibc.close(descriptor)
        descriptor = -1
    }
}
