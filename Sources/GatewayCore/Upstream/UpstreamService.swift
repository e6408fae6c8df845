import Mapping
import MQTT
import MQTTClient
import POSIX
import Storage
import Synchronization

/// The gateway's side of an upstream broker: one `UpstreamLoop` thread carrying every connection
/// (one per polled device, or one shared), each with its store-and-forward queue under
/// `<storage>/upstream/<link>` and a syncer thread that fsyncs the queues. Devices get their
/// `UpstreamDeviceChannel` from here; commands come back through the `UpstreamRouter`.
final class UpstreamService: Sendable {
    private struct Connection: Sendable {
        let outbox: UpstreamOutbox
        let link: UpstreamLink
    }

    private struct State {
        var connections: [String: Connection] = [:]
        /// Connections being removed (a device restarted by a reload): a new one for the same
        /// device waits, since its queue's folder is still locked.
        var removals: [String: Task<Void, Never>] = [:]
        var stopped = false
        /// Each device's login on its own connection; a reload replaces them (a device whose
        /// login changed is restarted by the reload, and its new connection uses the new one).
        var deviceLogins: [String: UpstreamLogin] = [:]
        /// Each connection's status as it closed (a device's own when the device stopped), for
        /// the stop line.
        var finalStatuses: [String: UpstreamQueueStatus] = [:]
    }

    /// How long a clean stop waits for connected links to deliver what they hold.
    static let drainOnStop = Duration.seconds(2)

    /// The link name of the one connection in `shared` style.
    static let sharedLinkName = "shared"

    let plan: UpstreamPlan
    private let loop: UpstreamLoop
    private let syncer: QueueSyncer
    private let router: UpstreamRouter
    private let queueFolder: String
    private let logger: Logger
    private let state = Mutex(State())

    private init(plan: UpstreamPlan, loop: UpstreamLoop, syncer: QueueSyncer, queueFolder: String, logger: Logger) {
        self.plan = plan
        self.loop = loop
        self.syncer = syncer
        self.queueFolder = queueFolder
        self.logger = logger
        router = UpstreamRouter(layout: plan.layout, logger: logger)
        state.withLock { $0.deviceLogins = plan.deviceLogins }
    }

    /// The devices' logins of a reloaded config; the broker, its TLS settings and the topic
    /// layout stay as they started (the runtime says a restart applies them).
    func replaceDeviceLogins(from next: UpstreamPlan) {
        state.withLock { $0.deviceLogins = next.deviceLogins }
    }

    /// Starts the loop and the syncer; in `shared` style, the one connection too.
    static func start(_ plan: UpstreamPlan, storage: String, logger: Logger) async throws(GatewayError) -> UpstreamService {
        let loop: UpstreamLoop
        let syncer: QueueSyncer
        do {
            loop = try UpstreamLoop(logger: logger)
        } catch {
            throw .upstream("cannot start the upstream loop: \(error)")
        }
        do {
            syncer = try QueueSyncer()
        } catch {
            throw .upstream("cannot start the queue syncer: \(error)")
        }
        let service = UpstreamService(plan: plan, loop: loop, syncer: syncer, queueFolder: storage + "/upstream", logger: logger)
        if plan.settings.connection == .shared {
            let connection = try await service.open(name: sharedLinkName, login: plan.sharedLogin,
                                                    subscriptions: plan.layout.wildcardCommandFilters())
            service.state.withLock { $0.connections[sharedLinkName] = connection }
        }
        return service
    }

    /// The channel of a polled device: in `per-device` style its own connection (logging in as
    /// the device), in `shared` style the gateway's one.
    func channel(for device: ResolvedDevice) async throws(GatewayError) -> UpstreamDeviceChannel {
        let id = device.settings.id
        if let removal = state.withLock({ $0.removals[id] }) { await removal.value }
        let connection: Connection
        if plan.settings.connection == .shared {
            guard let shared = state.withLock({ $0.connections[Self.sharedLinkName] }) else {
                throw .upstream("the shared upstream connection is not running")
            }
            connection = shared
        } else {
            let login = state.withLock { $0.deviceLogins[id] } ?? UpstreamLogin(clientID: id, username: id)
            connection = try await open(name: id, login: login,
                                        subscriptions: plan.layout.commandFilters(device: id, registry: device.registry))
            let stopped = state.withLock { state -> Bool in
                if !state.stopped { state.connections[id] = connection }
                return state.stopped
            }
            if stopped {
                await Self.close(connection)
                throw .upstream("the upstream side is stopping")
            }
        }
        let relay = InputRelay()
        router.add(id, registry: device.registry, relay: relay)
        let perDevice = plan.settings.connection != .shared
        return UpstreamDeviceChannel(deviceID: id, layout: plan.layout, outbox: connection.outbox, relay: relay) { [self] in
            router.remove(id)
            if perDevice { release(id) }
        }
    }

    /// How the device's upstream connection and queue are doing (the shared one in `shared` style).
    func status(of deviceID: String) -> UpstreamQueueStatus? {
        let name = plan.settings.connection == .shared ? Self.sharedLinkName : deviceID
        return state.withLock { $0.connections[name] }?.outbox.status
    }

    /// Every connection's queue status, by connection name (for `/metrics`).
    func queueStatuses() -> [(name: String, status: UpstreamQueueStatus)] {
        let outboxes = state.withLock { $0.connections.map { ($0.key, $0.value.outbox) } }
        return outboxes.map { (name: $0.0, status: $0.1.status) }
    }

    /// Totals over every connection (as they stopped, once stopped) for `run`'s stop line.
    var stopLineFields: [(String, String)] {
        let all = state.withLock { $0.stopped ? $0.finalStatuses : $0.connections.mapValues { $0.outbox.status } }.values
        return [("upstream_sent", String(all.reduce(0) { $0 + $1.sent })),
                ("upstream_acknowledged", String(all.reduce(0) { $0 + $1.acknowledged })),
                ("upstream_resent", String(all.reduce(0) { $0 + $1.resent })),
                ("upstream_queued", String(all.reduce(0) { $0 + $1.depth })),
                ("upstream_dropped", String(all.reduce(0) { $0 + $1.dropped }))]
    }

    /// Disconnects every link, closes the queues (what was posted is written first), ends the threads.
    func stop() async {
        let (connections, removals) = state.withLock { state -> ([Connection], [Task<Void, Never>]) in
            state.stopped = true
            defer {
                state.connections = [:]
                state.removals = [:]
            }
            return (Array(state.connections.values), Array(state.removals.values))
        }
        for removal in removals { await removal.value }
        // Side by side: each waits (bounded) for its link to deliver what it holds.
        await withTaskGroup(of: Void.self) { group in
            for connection in connections { group.addTask { await Self.close(connection) } }
        }
        for connection in connections {
            state.withLock { $0.finalStatuses[connection.outbox.name] = connection.outbox.status }
        }
        await loop.stop()
        // The last sync requests (submitted by the queues' close) run before the syncer joins.
        let syncer = self.syncer
        await onDedicatedThread(named: "upstream-stop") { syncer.stop() }
    }

    // MARK: - Connections

    /// Opens a connection's queue (on a thread of its own: it reads the queue's files) and adds its link.
    private func open(name: String, login: UpstreamLogin, subscriptions: [String]) async throws(GatewayError) -> Connection {
        let settings = plan.settings
        // A device's own connection delivers to that device only (UpstreamRouter.route).
        let receiver: String? = settings.connection == .shared ? nil : name
        let (folder, syncer, logger, router) = (queueFolder + "/" + name, self.syncer, self.logger, self.router)
        let opened = await onDedicatedThread(named: "upstream-open") { () -> Result<UpstreamOutbox, StorageError> in
            Result { () throws(StorageError) in
                try UpstreamOutbox(name: name, directory: folder,
                                   limits: MessageQueueLimits(maximumBytes: settings.queue.maximumBytes, maximumAge: settings.queue.maximumAge),
                                   replayRate: settings.queue.replayRate, syncInterval: settings.queue.sync, syncer: syncer,
                                   logger: logger, wallMilliseconds: { Timestamp.nowMilliseconds() },
                                   onReceive: { publish in router.route(publish, receiver: receiver) })
            }
        }
        let outbox: UpstreamOutbox
        do {
            outbox = try opened.get()
        } catch {
            throw .upstream("\(name): cannot open its queue: \(error)")
        }
        let configuration = plan.linkConfiguration(name: name, login: login,
                                                   subscriptions: subscriptions.map { Subscription(filter: $0, qos: .atLeastOnce) })
        let link = loop.add(configuration, source: outbox)
        outbox.attach(link)
        return Connection(outbox: outbox, link: link)
    }

    /// Removes the link (DISCONNECT), then writes what was posted and closes the queue, on a
    /// thread of its own (disk writes stay off the concurrency pool).
    private static func close(_ connection: Connection) async {
        // What a connected link still holds (a device's last `state` among it) is delivered
        // first, for up to `drainOnStop`; what is left stays queued for the next start.
        let deadline = ContinuousClock.now.advanced(by: drainOnStop)
        while ContinuousClock.now < deadline && connection.outbox.hasUndeliveredWhileConnected {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await connection.link.remove()
        let outbox = connection.outbox
        await onDedicatedThread(named: "upstream-close") { outbox.close() }
    }

    /// Ends a device's own connection in the background; its queue stays on disk for when it returns.
    private func release(_ deviceID: String) {
        state.withLock { state in
            guard let connection = state.connections.removeValue(forKey: deviceID) else { return }
            state.removals[deviceID] = Task { [self] in
                await Self.close(connection)
                self.state.withLock {
                    $0.removals[deviceID] = nil
                    $0.finalStatuses[deviceID] = connection.outbox.status
                }
            }
        }
    }
}
