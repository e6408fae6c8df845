import Glibc
import POSIX
import Testing

@Suite("The epoll reactor and its eventfd wake-up")
struct ReactorTests {
    /// What the waiting thread saw, in order.
    enum Step: Sendable, Equatable {
        /// Registered; `ready` descriptors before anyone signalled (expected: none).
        case waiting(ready: Int)
        /// The wait returned these (token, readable) pairs, then `afterDrain` were still ready.
        case woken([Pair], afterDrain: Int)
        case failed(Errno)
    }

    struct Pair: Sendable, Equatable {
        let token: UInt64
        let readable: Bool
    }

    @Test("A signal from another thread wakes a thread waiting in epoll, with the wake-up's token; drained, it is quiet")
    func wakeupWakesWaitingEpoll() async throws {
        let wakeup = try Wakeup()
        let (steps, sink) = AsyncStream<Step>.makeStream()
        let waiter = try DedicatedThread(name: "reactor-test") {
            do throws(Errno) {
                let epoll = try Epoll()
                try epoll.add(wakeup.descriptor, token: 7, interest: .readable)
                sink.yield(.waiting(ready: try epoll.wait(timeout: .zero)))
                // A generous bound so that a broken wake-up fails the test instead of hanging it.
                let count = try epoll.wait(timeout: .seconds(60))
                let pairs = (0..<count).map { epoll.event(at: $0) }.map { Pair(token: $0.token, readable: $0.isReadable) }
                wakeup.drain()
                sink.yield(.woken(pairs, afterDrain: try epoll.wait(timeout: .zero)))
            } catch {
                sink.yield(.failed(error))
            }
            sink.finish()
        }
        defer { waiter.join() }
        var seen: [Step] = []
        for await step in steps {
            seen.append(step)
            if case .waiting = step { wakeup.signal() }
        }
        #expect(seen == [.waiting(ready: 0), .woken([Pair(token: 7, readable: true)], afterDrain: 0)])
    }

    @Test("A readable socket is reported with its 64-bit token, again while unread (level-triggered), writable once asked, not after remove")
    func readableSocketReportedWithToken() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        defer { _ = close(pair[0]); _ = close(pair[1]) }
        let token: UInt64 = 0xFEED_0000_0000_0042
        let epoll = try Epoll()
        try epoll.add(pair[0], token: token, interest: .readable)
        #expect(try epoll.wait(timeout: .zero) == 0)

        let bytes: [UInt8] = [1, 2, 3]
        #expect(bytes.withUnsafeBytes { write(pair[1], $0.baseAddress, $0.count) } == 3)
        for _ in 0..<2 {
            #expect(try epoll.wait(timeout: .seconds(60)) == 1)
            let event = epoll.event(at: 0)
            #expect(event.token == token)
            #expect(event.isReadable && !event.isWritable && !event.isBroken)
        }

        try epoll.modify(pair[0], token: token + 1, interest: [.readable, .writable])
        #expect(try epoll.wait(timeout: .seconds(60)) == 1)
        let both = epoll.event(at: 0)
        #expect(both.token == token + 1)
        #expect(both.isReadable && both.isWritable)

        epoll.remove(pair[0])
        #expect(try epoll.wait(timeout: .zero) == 0)
    }

    @Test("A closed peer is reported as broken (hang-up) to a reader")
    func closedPeerIsBroken() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        defer { _ = close(pair[0]) }
        let epoll = try Epoll()
        try epoll.add(pair[0], token: 3, interest: .readable)
        _ = close(pair[1])
        #expect(try epoll.wait(timeout: .seconds(60)) == 1)
        #expect(epoll.event(at: 0).token == 3)
        #expect(epoll.event(at: 0).isBroken)
    }
}

@Suite("Socket descriptors above select's range")
struct SelectRangeTests {
    @Test("moveAboveSelectRange gives the socket a descriptor of 1024 or more when the limit allows, and it still works")
    func movesAbove1024() throws {
        var limit = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        if limit.rlim_cur < 2048 && limit.rlim_max >= 2048 {
            limit.rlim_cur = 2048
            try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        }
        try #require(limit.rlim_cur >= 2048, "the hard limit does not allow descriptors past 1024 here")
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        let client = try Socket.connect(host: "127.0.0.1", port: listener.localPort, timeout: .seconds(5))
        let low = client.descriptor
        client.moveAboveSelectRange()
        #expect(low < 1024 && client.descriptor >= 1024)
        #expect(fcntl(low, F_GETFD) == -1)  // the old number is closed
        #expect(fcntl(client.descriptor, F_GETFD) & FD_CLOEXEC != 0)
        // The moved socket is the same connection: the listener accepts it and it carries bytes.
        var accepted: (Socket, String)?
        for _ in 0..<500 where accepted == nil {
            accepted = try listener.accept()
            if accepted == nil { usleep(2000) }
        }
        let server = try #require(accepted?.0)
        var byte: UInt8 = 42
        #expect(write(client.descriptor, &byte, 1) == 1)
        var received: UInt8 = 0
        var waiting = pollfd(fd: server.descriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&waiting, 1, 5000) == 1)
        #expect(read(server.descriptor, &received, 1) == 1 && received == 42)
        client.close()
        server.close()
        listener.close()
    }
}
