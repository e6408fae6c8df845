import MQTT
import POSIX
import Synchronization

/// The embedded MQTT 3.1.1 broker: listeners, sessions, retained messages and storage, served
/// by one reactor thread on epoll. Thread-safe: every method may be called from any thread.
package final class Broker: Sendable {
    /// The port of the first listener (useful after asking for port 0).
    package var port: UInt16 { ports[0] }
    /// The port of each listener, in the configuration's order.
    package let ports: [UInt16]
    package let configuration: BrokerConfiguration
    private let mailbox: Mailbox
    private let thread: DedicatedThread

    /// Binds every listener, then starts the reactor thread, which loads the storage before it
    /// serves; returns once it serves (a storage that cannot be loaded is thrown here).
    /// `site` answers the HTTP listeners' requests that are not WebSocket MQTT or the console's login.
    package static func start(_ configuration: BrokerConfiguration, policy: any BrokerPolicy = OpenPolicy(), site: (any HTTPSite)? = nil,
                             logger: Logger = .discarding) throws(BrokerError) -> Broker {
        let core = try BrokerCore(configuration: configuration, policy: policy, site: site, logger: logger)
        let started = ConditionLock<Result<Void, BrokerError>?>(nil)
        let thread: DedicatedThread
        do {
            thread = try DedicatedThread(name: "mqtt-broker") {
                core.run { result in started.withLockAndSignal { $0 = result } }
            }
        } catch {
            throw .reactorFailed("pthread_create", error)
        }
        // The replay used to run here, on the caller's thread; waiting for it keeps `start`'s
        // promise that a broker it returns has its retained messages and sessions.
        let result = started.wait(until: nil) { $0 } ?? .failure(.notRunning)
        if case let .failure(error) = result {
            thread.join()
            throw error
        }
        return Broker(ports: core.ports, configuration: configuration, mailbox: core.mailbox, thread: thread)
    }

    private init(ports: [UInt16], configuration: BrokerConfiguration, mailbox: Mailbox, thread: DedicatedThread) {
        self.ports = ports
        self.configuration = configuration
        self.mailbox = mailbox
        self.thread = thread
    }

    /// Closes every connection (without publishing wills), writes and syncs the storage, and
    /// waits for the reactor thread to end, blocking the calling thread (for synchronous code;
    /// async code awaits `stop() async`). Later calls return at once.
    package func stop() {
        _ = mailbox.send(.stop)
        thread.join()
    }

    /// Closes every connection (without publishing wills), writes and syncs the storage, and
    /// returns once the reactor has done so, suspending rather than holding a pool thread.
    /// Later calls return at once.
    package func stop() async {
        _ = mailbox.send(.stop)
        await mailbox.stopped()
        // The reactor resumed us as its last step and its thread is returning: detached rather
        // than joined, so no pool thread waits even that long.
        thread.detach()
    }

    /// Puts `policy` in charge of new logins and in-process clients from now on (a reloaded
    /// registry); connected clients keep the rules they logged in with until they reconnect.
    /// Returns once the reactor has switched.
    package func replacePolicy(_ policy: any BrokerPolicy) async {
        _ = await mailbox.ask { reply in .replacePolicy(policy, reply: reply) }
    }

    /// Whether the reactor answers: true once it has taken a message at its next turn, false if
    /// it has stopped. A reactor that hangs never answers: callers bound the wait.
    package func ping() async -> Bool {
        if case .success = await mailbox.ask({ reply in .ping(reply: reply) }) { return true }
        return false
    }

    /// Counters, as of the reactor's last turn.
    package var statistics: BrokerStatistics { mailbox.statistics }

    /// Connects an in-process client: a clean session under `identity`, with the policy's
    /// checks, and no socket. Messages for its subscriptions arrive on its `messages` stream;
    /// at most `bufferLimit` wait there unread (more are dropped and counted).
    package func connectLocal(_ identity: ClientIdentity, bufferLimit: Int = 10_000) async throws(BrokerError) -> LocalClient {
        let (messages, continuation) = AsyncStream<Publish>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        let sink = LocalSink(continuation: continuation)
        try await mailbox.ask { reply in .attachLocal(identity, sink, reply: reply) }.get()
        return LocalClient(clientID: identity.clientID, messages: messages, mailbox: mailbox)
    }

    /// Connects an in-process client whose messages go to `deliver`, called on the broker's
    /// reactor thread in the order the broker routes them: it must only hand the message on,
    /// never block, and return false if it dropped it (counted as dropped). Its `messages`
    /// stream is empty.
    package func connectLocal(_ identity: ClientIdentity, deliver: @escaping @Sendable (Publish) -> Bool) async throws(BrokerError) -> LocalClient {
        try await mailbox.ask { reply in .attachLocal(identity, LocalSink(handler: deliver), reply: reply) }.get()
        let (messages, continuation) = AsyncStream<Publish>.makeStream()
        continuation.finish()
        return LocalClient(clientID: identity.clientID, messages: messages, mailbox: mailbox)
    }
}

/// A client inside the gateway's process: publishes and subscribes through the broker's
/// reactor without a socket. Its session is clean and ends with `disconnect()`.
package final class LocalClient: Sendable {
    package let clientID: String
    /// Messages from its subscriptions, in the order the broker routed them.
    package let messages: AsyncStream<Publish>
    private let mailbox: Mailbox

    init(clientID: String, messages: AsyncStream<Publish>, mailbox: Mailbox) {
        self.clientID = clientID
        self.messages = messages
        self.mailbox = mailbox
    }

    /// Publishes as this client; returns once the broker has routed the message (and, if the
    /// message is retained, queued its storage record).
    package func publish(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false) async throws(BrokerError) {
        let publish = Publish(topic: topic, payload: payload, qos: qos, retain: retain)
        try await mailbox.ask { reply in .publish(clientID: clientID, publish, reply: reply) }.get()
    }

    /// Publishes as this client without waiting for the broker (for a thread that must not
    /// block); `refused` runs, on the broker's thread, if the broker does not route it.
    package func post(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false,
                     refused: @escaping @Sendable (BrokerError) -> Void) {
        let publish = Publish(topic: topic, payload: payload, qos: qos, retain: retain)
        let sent = mailbox.send(.publish(clientID: clientID, publish) { result in
            if case let .failure(error) = result { refused(error) }
        })
        if !sent { refused(.notRunning) }
    }

    /// Subscribes; returns the granted QoS (or failure) for each filter, as a SUBACK would.
    package func subscribe(_ subscriptions: [Subscription]) async throws(BrokerError) -> [SubscribeReturnCode] {
        try await mailbox.ask { reply in .subscribe(clientID: clientID, subscriptions, reply: reply) }.get()
    }

    package func unsubscribe(_ filters: [String]) async throws(BrokerError) {
        try await mailbox.ask { reply in .unsubscribe(clientID: clientID, filters, reply: reply) }.get()
    }

    /// Ends the session; `messages` finishes.
    package func disconnect() {
        _ = mailbox.send(.detachLocal(clientID: clientID))
    }
}
