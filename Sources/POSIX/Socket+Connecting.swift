import Glibc

/// Outgoing connections for an event loop: the name lookup (blocking, for a helper thread) kept
/// apart from the connect (never blocking), whose end the loop learns from epoll.
extension Socket {
    /// Starts a non-blocking TCP connection to a numeric IPv4 or IPv6 address: the socket, and
    /// whether it connected at once (else wait until it is writable, then ask `connectError()`).
    package static func startConnect(to address: String, port: UInt16) throws(Errno) -> (socket: Socket, connected: Bool) {
        guard let (address, length) = socketAddress(address, port: port) else { throw Errno(rawValue: EINVAL) }
        var storage = address
        let socket = Socket(adopting: try checkedSyscall {
            Glibc.socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        })
        var one: Int32 = 1
        _ = setsockopt(socket.descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket.descriptor, $0, length) }
        }
        if result == 0 { return (socket, true) }
        let failure = errno
        guard failure == EINPROGRESS || failure == EINTR else { throw Errno(rawValue: failure) }
        return (socket, false)
    }

    /// After a non-blocking connect became writable: nil if it connected, else why not (SO_ERROR).
    package func connectError() -> Errno? {
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length) == 0 else { return Errno.current }
        return failure == 0 ? nil : Errno(rawValue: failure)
    }

    /// Whether `host` is a numeric IPv4 or IPv6 address (no lookup needed).
    package static func isNumericAddress(_ host: String) -> Bool {
        socketAddress(host, port: 0) != nil
    }

    /// The numeric addresses of `host` for TCP, in getaddrinfo's order (which follows RFC 6724),
    /// or the resolver's message. Blocks (DNS): for a thread of its own, never an event loop.
    package static func resolveAddresses(host: String, port: UInt16) -> Result<[String], AddressResolutionError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0 else {
            let text = status == EAI_SYSTEM ? Errno.current.description : gai_strerror(status).map { String(cString: $0) } ?? "error \(status)"
            return .failure(AddressResolutionError(host: host, message: text))
        }
        defer { freeaddrinfo(results) }
        var addresses: [String] = []
        var candidate = results
        while let info = candidate {
            candidate = info.pointee.ai_next
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            switch info.pointee.ai_family {
            case AF_INET:
                info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var inner = pointer.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &inner, &text, socklen_t(text.count))
                }
            case AF_INET6:
                info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var inner = pointer.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &inner, &text, socklen_t(text.count))
                }
            default:
                continue
            }
            let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !address.isEmpty && !addresses.contains(address) { addresses.append(address) }
        }
        return .success(addresses)
    }

    /// A numeric IPv4 or IPv6 address as a sockaddr with `port`, and its length; nil if it is not one.
    static func socketAddress(_ address: String, port: UInt16) -> (sockaddr_storage, socklen_t)? {
        var storage = sockaddr_storage()
        let isIPv4 = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                guard inet_pton(AF_INET, address, &pointer.pointee.sin_addr) == 1 else { return false }
                pointer.pointee.sin_family = sa_family_t(AF_INET)
                pointer.pointee.sin_port = port.bigEndian
                return true
            }
        }
        if isIPv4 { return (storage, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        let isIPv6 = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                guard inet_pton(AF_INET6, address, &pointer.pointee.sin6_addr) == 1 else { return false }
                pointer.pointee.sin6_family = sa_family_t(AF_INET6)
                pointer.pointee.sin6_port = port.bigEndian
                return true
            }
        }
        return isIPv6 ? (storage, socklen_t(MemoryLayout<sockaddr_in6>.size)) : nil
    }
}

/// A host name the resolver could not turn into addresses, with its message.
package struct AddressResolutionError: Error, Sendable, Equatable, CustomStringConvertible {
    package let host: String
    package let message: String

    package var description: String { "cannot resolve \(host): \(message)" }
}
