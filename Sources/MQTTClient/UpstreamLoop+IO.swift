import Glibc
import POSIX
import TLS

/// A link's socket on the loop: the non-blocking connect, the TLS session over memory BIOs,
/// reads into the machine and writes out of the link's buffer (EPOLLOUT while the socket is full).
extension UpstreamLoopCore {
    typealias LinkAction = UpstreamLinkAction<ContinuousClock.Instant>

    func connect(_ link: UpstreamLinkState, to address: String, port: UInt16) -> [LinkAction] {
        linkByToken[link.token] = nil
        link.dropTransport(epoll: epoll)
        let target = address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
        let started: (socket: Socket, connected: Bool)
        do {
            started = try Socket.startConnect(to: address, port: port)
        } catch {
            return link.machine.transportFailed(Self.describeConnectFailure(error, target: target), at: clock.now)
        }
        let token = nextToken
        nextToken += 1
        do {
            try epoll.add(started.socket.descriptor, token: token, interest: started.connected ? .readable : .writable)
        } catch {
            started.socket.close()
            return link.machine.transportFailed("cannot watch the socket for \(target): \(error)", at: clock.now)
        }
        linkByToken[token] = link.id
        link.socket = started.socket
        link.token = token
        link.connecting = !started.connected
        link.watchingWritable = !started.connected
        return started.connected ? link.machine.transportConnected(at: clock.now) : []
    }

    static func describeConnectFailure(_ error: Errno, target: String) -> String {
        switch error.rawValue {
        case ECONNREFUSED: "connection refused by \(target)"
        case ETIMEDOUT: "no answer from \(target) (connect timed out)"
        case EHOSTUNREACH, ENETUNREACH: "\(target) is unreachable (\(error.name))"
        default: "cannot connect to \(target): \(error)"
        }
    }

    func startTLS(_ link: UpstreamLinkState, serverName: String) -> [LinkAction] {
        guard let context = link.configuration.tls else {
            return link.machine.transportFailed("TLS handshake failed: no TLS context", at: clock.now)
        }
        do {
            link.tls = try context.makeClientConnection(serverName: serverName)
        } catch {
            return link.machine.transportFailed("TLS handshake failed: \(error)", at: clock.now)
        }
        return continueHandshake(link)
    }

    /// Moves the handshake on; once done, tells the machine and reads any data that came with it.
    private func continueHandshake(_ link: UpstreamLinkState) -> [LinkAction] {
        guard let tls = link.tls else { return [] }
        let progress: TLSConnection.HandshakeProgress
        do {
            progress = try tls.handshake()
        } catch {
            link.collectTLSOutput()  // the alert, so the server learns why
            return link.machine.transportFailed(Self.handshakeFailure(error), at: clock.now)
        }
        link.collectTLSOutput()
        guard progress == .done else { return [] }
        let version = tls.negotiatedVersion?.rawValue ?? "TLS"
        return link.machine.transportSecured(version: version, at: clock.now) + readPlaintext(link)
    }

    static func handshakeFailure(_ error: TLSError) -> String {
        if case let .handshakeFailed(_, reason) = error { return "TLS handshake failed: \(reason)" }
        return "TLS handshake failed: \(error)"
    }

    func write(_ link: UpstreamLinkState, _ bytes: [UInt8]) -> [LinkAction] {
        guard link.socket != nil else { return [] }
        guard let tls = link.tls else {
            link.append(bytes)
            return []
        }
        do {
            try tls.write(bytes)
        } catch {
            return link.machine.transportFailed("\(error)", at: clock.now)
        }
        link.collectTLSOutput()
        return []
    }

    func closeTransport(_ link: UpstreamLinkState, flushingWrites: Bool) {
        if flushingWrites, link.socket != nil, !link.connecting {
            // One non-blocking attempt: DISCONNECT (and close_notify) fit an empty socket buffer,
            // and a server that does not read must not hold the loop.
            if let tls = link.tls, tls.state == .established {
                tls.close()
                link.collectTLSOutput()
            }
            _ = try? link.writePending()
        }
        linkByToken[link.token] = nil
        link.dropTransport(epoll: epoll)
    }

    /// Writes the link's buffer; watches for writable while something is left.
    func flush(_ link: UpstreamLinkState) {
        guard let socket = link.socket, !link.connecting else { return }
        let done: Bool
        do {
            done = try link.writePending()
        } catch {
            perform(link, link.machine.transportFailed("write to \(link.configuration.server) failed: \(error)", at: clock.now))
            return
        }
        guard done == link.watchingWritable else { return }
        do {
            try epoll.modify(socket.descriptor, token: link.token, interest: done ? .readable : [.readable, .writable])
            link.watchingWritable = !done
        } catch {
            perform(link, link.machine.transportFailed("cannot watch the socket: \(error)", at: clock.now))
        }
    }

    /// A readiness event of a link's socket.
    func serve(_ link: UpstreamLinkState, _ event: Epoll.Event) {
        guard let socket = link.socket else { return }
        if link.connecting {
            guard event.isWritable || event.isBroken else { return }
            link.connecting = false
            let target = link.configuration.server
            if let failure = socket.connectError() {
                perform(link, link.machine.transportFailed(Self.describeConnectFailure(failure, target: target), at: clock.now))
                return
            }
            do {
                try epoll.modify(socket.descriptor, token: link.token, interest: .readable)
                link.watchingWritable = false
            } catch {
                perform(link, link.machine.transportFailed("cannot watch the socket: \(error)", at: clock.now))
                return
            }
            perform(link, link.machine.transportConnected(at: clock.now))
            return
        }
        if event.isWritable { flush(link) }
        if event.isReadable || event.isBroken { read(link) }
    }

    /// Reads what the socket holds (a few buffers at most per turn) into the machine.
    private func read(_ link: UpstreamLinkState) {
        let space = 65_536
        for _ in 0..<4 {
            guard let socket = link.socket, link.token != 0 else { return }
            let token = link.token
            let received: [UInt8]?
            do {
                received = try withUnsafeTemporaryAllocation(byteCount: space, alignment: 1) { buffer in
                    Result { () throws(Errno) -> [UInt8]? in
                        guard let count = try socket.read(into: buffer) else { return nil }
                        return Array(buffer[0..<count])
                    }
                }.get()
            } catch {
                perform(link, link.machine.transportFailed("read from \(link.configuration.server) failed: \(error)", at: clock.now))
                return
            }
            guard let received else { return }
            if received.isEmpty {
                let during = link.tls?.state == .handshaking ? "TLS handshake failed: " : ""
                perform(link, link.machine.transportFailed(during + "\(link.configuration.server) closed the connection", at: clock.now))
                return
            }
            if let tls = link.tls {
                tls.receive(received)
                perform(link, tls.state == .handshaking ? continueHandshake(link) : readPlaintext(link))
            } else {
                perform(link, link.machine.received(received, at: clock.now))
            }
            // The link may have closed or reconnected meanwhile.
            if link.token != token || received.count < space { return }
        }
    }

    /// The plaintext the TLS session holds, into the machine.
    private func readPlaintext(_ link: UpstreamLinkState) -> [LinkAction] {
        guard let tls = link.tls, tls.state != .handshaking else { return [] }
        do {
            switch try tls.read() {
            case let .data(plaintext):
                var actions = link.machine.received(plaintext, at: clock.now)
                if tls.state == .closed {
                    actions += link.machine.transportFailed("\(link.configuration.server) ended the TLS session", at: clock.now)
                }
                return actions
            case .needsInput:
                return []
            case .closed:
                return link.machine.transportFailed("\(link.configuration.server) ended the TLS session", at: clock.now)
            }
        } catch {
            link.collectTLSOutput()
            return link.machine.transportFailed("\(error)", at: clock.now)
        }
    }
}
