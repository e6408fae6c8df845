import POSIX

/// Holding a connection back and letting it go: while a login is checked off the reactor, or a
/// client waits out its message rate, its socket is not watched for reading (the kernel's
/// buffers push back on the client) and its framer keeps what it already read.
extension BrokerCore {
    /// What epoll watches on the connection's socket: reading unless it is held, writing while
    /// output is pending.
    func updateInterest(_ connection: Connection) throws(Errno) {
        var interest: Epoll.Interest = connection.isHeld ? [] : .readable
        if connection.watchingWritable { interest.insert(.writable) }
        try epoll.modify(connection.socket.descriptor, token: connection.token, interest: interest)
    }

    /// Stops reading the connection until `resume` (a login being verified, a rate pause).
    func hold(_ connection: Connection) {
        do {
            try updateInterest(connection)
        } catch {
            close(connection, reason: "epoll_ctl failed: \(error)", publishWill: true)
        }
    }

    /// Reads the connection again; packets that waited in its framer are handled next turn.
    func resume(_ connection: Connection) {
        connection.pausedUntil = nil
        guard connection.isOpen, !connection.isHeld else { return }
        do {
            try updateInterest(connection)
        } catch {
            close(connection, reason: "epoll_ctl failed: \(error)", publishWill: true)
            return
        }
        if !connection.backlogged {
            connection.backlogged = true
            backlog.append(connection)
        }
    }
}
