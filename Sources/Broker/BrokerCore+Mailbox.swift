import POSIX

/// Commands from other threads: the gateway's in-process clients, a policy replaced at reload,
/// pings, and logins the verifier thread has checked, all taken on the reactor thread.
extension BrokerCore {
    /// Runs what other threads sent through the mailbox (local clients, policy, verified logins).
    func runCommands() {
        mailbox.wakeup.drain()  // before take(): Mailbox.send wakes only an empty queue
        for command in mailbox.take() {
            switch command {
            case .stop:
                stopRunning()
            case let .attachLocal(identity, sink, reply):
                reply(attachLocal(identity, sink: sink))
            case let .detachLocal(clientID):
                detachLocal(clientID)
            case let .publish(clientID, publish, reply):
                reply(publishLocal(clientID, publish))
            case let .subscribe(clientID, filters, reply):
                reply(subscribeLocal(clientID, filters))
            case let .unsubscribe(clientID, filters, reply):
                reply(unsubscribeLocal(clientID, filters))
            case let .replacePolicy(policy, reply):
                self.policy = policy
                reply(.success(()))
            case let .ping(reply):
                reply(.success(()))
            case let .verified(token, authentication):
                if let connection = connections[token], let http = connection.http, let pending = http.pendingLogin {
                    http.pendingLogin = nil
                    finishConsoleLogin(pending, authentication, on: connection, http)
                    resume(connection)
                    continue
                }
                guard let connection = connections[token], let pending = connection.verifying else { continue }
                connection.verifying = nil
                finishConnect(pending, authentication, on: connection)
                resume(connection)
            }
        }
    }
}
