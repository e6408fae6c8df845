import POSIX

/// A listening socket of the broker, registered in epoll under its own token.
final class Listener {
    let settings: ListenerConfiguration
    let socket: Socket
    let token: UInt64
    /// The port it got (the configured one, or the one picked for port 0).
    let port: UInt16
    /// Set while it is out of epoll because accept failed (EMFILE): a level-triggered listener
    /// that cannot accept would otherwise wake the reactor in a busy loop.
    var pausedUntil: ContinuousClock.Instant?

    /// Binds and registers; an error names this listener's address.
    init(_ settings: ListenerConfiguration, token: UInt64, epoll: Epoll) throws(BrokerError) {
        self.settings = settings
        self.token = token
        do {
            socket = try Socket.listen(host: settings.host, port: settings.port)
            try epoll.add(socket.descriptor, token: token, interest: .readable)
        } catch {
            throw .listenFailed(host: settings.host, port: settings.port, error)
        }
        port = socket.localPort
    }

    /// "host:port" with the port it got, for logs.
    var address: String { ListenerConfiguration.describe(host: settings.host, port: port) }
}

/// Accepting connections on the listeners.
extension BrokerCore {
    func acceptAll(from listener: Listener) {
        while true {
            let accepted: (Socket, String)?
            do {
                accepted = try listener.socket.accept()
            } catch {
                // EMFILE and friends: new clients wait in the backlog while the listener rests.
                log(.warning, "accept_failed", ["listener": listener.address, "error": "\(error)", "connections": "\(connections.count)"])
                epoll.remove(listener.socket.descriptor)
                if listener.pausedUntil == nil { statistics.listenersNotAccepting += 1 }
                listener.pausedUntil = clock.now.advanced(by: .milliseconds(250))
                return
            }
            guard let (socket, address) = accepted else { return }
            // Clients above 1024: in `modbridge run` the Modbus TCP buses share this process, and
            // libmodbus watches their sockets with select(2), which cannot go past 1024.
            socket.moveAboveSelectRange()
            let token = nextToken
            nextToken += 1
            let connection = Connection(token: token, socket: socket, remoteAddress: address,
                                        listener: listener,
                                        maximumPacketSize: configuration.maximumPacketSize,
                                        now: clock.now, connectTimeout: configuration.connectTimeout)
            if case let .http(services) = listener.settings.kind {
                startHTTP(on: connection, services: services)
            }
            if case let .tls(context) = listener.settings.security, !startTLS(on: connection, context: context, listener: listener) {
                socket.close()
                continue
            }
            do {
                try epoll.add(socket.descriptor, token: token, interest: .readable)
            } catch {
                log(.warning, "accept_failed", ["listener": listener.address, "error": "\(error)"])
                continue
            }
            connections[token] = connection
        }
    }

    /// Puts the listeners that rested after a failed accept back into epoll.
    func resumePausedListeners(now: ContinuousClock.Instant) {
        for listener in listeners {
            guard let pausedUntil = listener.pausedUntil, now >= pausedUntil else { continue }
            listener.pausedUntil = nil
            do {
                try epoll.add(listener.socket.descriptor, token: listener.token, interest: .readable)
                statistics.listenersNotAccepting -= 1
            } catch {
                log(.error, "listener_failed", ["listener": listener.address, "error": "\(error)"])
            }
        }
    }
}
