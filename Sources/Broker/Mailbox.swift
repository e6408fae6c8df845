import MQTT
import POSIX
import Synchronization

/// Counters of the broker's activity, read at any time through `Broker.statistics`.
package struct BrokerStatistics: Sendable, Equatable {
    package var connections = 0
    package var sessions = 0
    package var subscriptions = 0
    package var retainedMessages = 0
    /// PUBLISH packets accepted (from sockets, in-process clients and wills).
    package var messagesReceived = 0
    /// Messages handed to a connection or an in-process client.
    package var messagesDelivered = 0
    /// QoS 1/2 messages dropped because a session's queue was full, and QoS 0 messages for an
    /// offline session or a full in-process buffer.
    package var messagesDropped = 0
    /// Clients disconnected for not reading what was sent to them.
    package var slowConsumersDisconnected = 0
    /// Connections closed for breaking the MQTT rules.
    package var protocolErrors = 0
    /// Storage writes that failed (the broker keeps serving from memory).
    package var storageErrors = 0
    /// CONNECTs refused by the policy (bad credentials, disabled registry, ...).
    package var loginsRefused = 0
    /// PUBLISH packets to a topic the client may not use (each disconnected its sender).
    package var publishesDenied = 0
    /// SUBSCRIBE filters answered with 0x80.
    package var subscriptionsDenied = 0
    /// TLS handshakes that failed or did not finish in time.
    package var tlsHandshakesFailed = 0
    /// Log lines about refusals and denials left out because too many came at once.
    package var refusalLogsSuppressed = 0
    /// Listeners not accepting now: out of epoll after accept failed (descriptors exhausted),
    /// their new clients waiting in the backlog (`/healthz` fails meanwhile).
    package var listenersNotAccepting = 0

    package init() {}
}

/// What other threads ask of the reactor.
enum BrokerCommand: Sendable {
    case stop
    case attachLocal(ClientIdentity, LocalSink, reply: @Sendable (Result<Void, BrokerError>) -> Void)
    case detachLocal(clientID: String)
    case publish(clientID: String, Publish, reply: @Sendable (Result<Void, BrokerError>) -> Void)
    case subscribe(clientID: String, [Subscription], reply: @Sendable (Result<[SubscribeReturnCode], BrokerError>) -> Void)
    case unsubscribe(clientID: String, [String], reply: @Sendable (Result<Void, BrokerError>) -> Void)
    case replacePolicy(any BrokerPolicy, reply: @Sendable (Result<Void, BrokerError>) -> Void)
    /// Answered at the reactor's next turn: it is turning (a service watchdog asks).
    case ping(reply: @Sendable (Result<Void, BrokerError>) -> Void)
    /// A login checked by the `LoginVerifier`, for the connection with this epoll token.
    case verified(token: UInt64, Authentication)
}

/// The reactor's inbox (a `POSIX.LoopMailbox` of commands) and the statistics it publishes.
final class Mailbox: Sendable {
    private let commands: LoopMailbox<BrokerCommand>
    private let published = Mutex(BrokerStatistics())

    init() throws(Errno) {
        commands = try LoopMailbox()
    }

    /// The reactor's epoll watches it; the reactor drains it before `take()`.
    var wakeup: Wakeup { commands.wakeup }

    /// Queues a command; false if the reactor has stopped (the command will never run).
    func send(_ command: BrokerCommand) -> Bool {
        commands.send(command)
    }

    /// Sends a command built around its reply and waits for the reactor to answer it
    /// (`notRunning` if the reactor has stopped).
    func ask<Value: Sendable>(_ command: (@escaping @Sendable (Result<Value, BrokerError>) -> Void) -> BrokerCommand) async -> Result<Value, BrokerError> {
        await withCheckedContinuation { (done: CheckedContinuation<Result<Value, BrokerError>, Never>) in
            if !send(command({ done.resume(returning: $0) })) {
                done.resume(returning: .failure(.notRunning))
            }
        }
    }

    func take() -> [BrokerCommand] {
        commands.take()
    }

    /// Returns once the reactor has ended (at once if it has), without holding a thread.
    func stopped() async {
        await commands.stopped()
    }

    /// Called by the reactor as it ends, after it closed every connection: later sends fail,
    /// queued commands are answered, and those awaiting `stopped()` resume.
    func markStopped() {
        commands.markStopped { command in
            switch command {
            case .stop, .detachLocal, .verified: break
            case let .attachLocal(_, sink, reply): sink.finish(); reply(.failure(.notRunning))
            case let .publish(_, _, reply): reply(.failure(.notRunning))
            case let .subscribe(_, _, reply): reply(.failure(.notRunning))
            case let .unsubscribe(_, _, reply): reply(.failure(.notRunning))
            case let .replacePolicy(_, reply): reply(.failure(.notRunning))
            case let .ping(reply): reply(.failure(.notRunning))
            }
        }
    }

    func publish(statistics: BrokerStatistics, connections: Int, sessions: Int, subscriptions: Int, retained: Int) {
        var snapshot = statistics
        snapshot.connections = connections
        snapshot.sessions = sessions
        snapshot.subscriptions = subscriptions
        snapshot.retainedMessages = retained
        published.withLock { $0 = snapshot }
    }

    var statistics: BrokerStatistics { published.withLock { $0 } }
}

/// Where an in-process client's messages go: a bounded stream its owner reads, or a handler the
/// reactor thread calls (which must not block).
final class LocalSink: Sendable {
    private let deliverMessage: @Sendable (Publish) -> Bool
    private let finishDelivery: @Sendable () -> Void

    init(continuation: AsyncStream<Publish>.Continuation) {
        deliverMessage = { publish in
            if case .dropped = continuation.yield(publish) { return false }
            return true
        }
        finishDelivery = { continuation.finish() }
    }

    init(handler: @escaping @Sendable (Publish) -> Bool) {
        deliverMessage = handler
        finishDelivery = {}
    }

    /// False if the reader's buffer was full (or its handler dropped it).
    func deliver(_ publish: Publish) -> Bool { deliverMessage(publish) }

    func finish() { finishDelivery() }
}
