import Glibc
import HTTP
import MQTT
import POSIX
import Synchronization

/// The broker's state and its reactor loop: one thread owns all of it (sockets, sessions, the
/// subscription tree, retained messages, storage). Other threads reach it only through the
/// `Mailbox`. `@unchecked Sendable` because it is handed to its thread once and then touched only
/// there.
final class BrokerCore: @unchecked Sendable {
    let configuration: BrokerConfiguration
    /// Replaced by a reload (`Broker.replacePolicy`); sessions keep the rules compiled at login.
    var policy: any BrokerPolicy
    /// What HTTP listeners serve besides WebSocket MQTT and the console's login (nil: 404).
    let site: (any HTTPSite)?
    /// The console's logins, by session token.
    var consoleSessions: ConsoleSessions
    let logger: Logger
    let mailbox: Mailbox
    let clock = ContinuousClock()

    let epoll: Epoll
    /// The listening sockets, in the configuration's order; listener `i` has epoll token `i + 1`.
    let listeners: [Listener]
    private static let wakeupToken: UInt64 = 0
    var nextToken: UInt64
    var connections: [UInt64: Connection] = [:]
    private var flushQueue: [Connection] = []
    private var closeQueue: [(Connection, String)] = []  // slow consumers, closed with a reset
    /// Connections ended this turn whose sockets close at its end, after the answers they are owed.
    private var closingQueue: [Connection] = []
    private var running = true
    private var turn: UInt64 = 0
    /// Connections with whole packets left in their framer after their turn's work ran out. Their
    /// sockets may have nothing more to read, and epoll watches sockets (level-triggered), not
    /// framers: while this is not empty the reactor polls without sleeping.
    var backlog: [Connection] = []
    /// Packets plus retained messages matched that one connection may cost a turn, so 500
    /// pipelined wildcard SUBSCRIBEs are spread over turns instead of stalling every other client.
    static let workPerTurn = 1024
    /// Retained messages matched by the packet being handled (set by SUBSCRIBE).
    var retainedMatchedByPacket = 0

    var sessions: [String: Session] = [:]
    let subscriptions = SubscriptionTree<Subscriber>()
    /// Subscribers by topic, so repeated topics skip the tree walk; emptied on any subscription change.
    var matchCache: [String: [(Subscriber, QoS)]] = [:]
    /// Retained messages by topic level (3.3.1.3).
    let retained = RetainedStore<BrokerMessage>()
    /// The last message of each permanent topic (the policy's `isPermanent`), by topic.
    var permanent: [String: BrokerMessage] = [:]
    /// Set when the policy was told of activity this turn: its due messages are asked for at
    /// the turn's end.
    var policyActivity = false
    /// Runs the policy's slow login checks (password hashes) off the reactor thread.
    let verifier: LoginVerifier
    var storage: WriteAheadLog?
    var lastSync: ContinuousClock.Instant
    var unsyncedRecords = false
    var lastCompactedSize = 0
    var statistics = BrokerStatistics()
    /// The current second of refusal logging: when it began, lines logged, lines left out.
    var refusalWindow: (start: ContinuousClock.Instant, lines: Int, suppressed: Int) = (ContinuousClock.now, 0, 0)
    var nextAutomaticClientID = 0

    /// The port each listener got (the configured one, or the one picked for port 0).
    var ports: [UInt16] { listeners.map(\.port) }

    init(configuration: BrokerConfiguration, policy: any BrokerPolicy, site: (any HTTPSite)? = nil, logger: Logger) throws(BrokerError) {
        try configuration.validate()
        self.configuration = configuration
        self.policy = policy
        self.site = site
        consoleSessions = ConsoleSessions(idle: configuration.consoleSessionIdle, lifetime: configuration.consoleSessionLifetime,
                                          maximum: configuration.maximumConsoleSessions)
        self.logger = logger
        do {
            mailbox = try Mailbox()
        } catch {
            throw .reactorFailed("wake-up eventfd", error)
        }
        do {
            epoll = try Epoll()
        } catch {
            throw .reactorFailed("epoll_create1", error)
        }
        do {
            try epoll.add(mailbox.wakeup.descriptor, token: Self.wakeupToken, interest: .readable)
        } catch {
            throw .reactorFailed("epoll_ctl", error)
        }
        var listeners: [Listener] = []
        for (index, settings) in configuration.listeners.enumerated() {
            // Each binds before the reactor starts, so a port in use fails `Broker.start` (and the
            // listeners bound before it close as `listeners` goes).
            listeners.append(try Listener(settings, token: UInt64(index) + 1, epoll: epoll))
        }
        self.listeners = listeners
        nextToken = UInt64(listeners.count) + 1
        do {
            verifier = try LoginVerifier(mailbox: mailbox)
        } catch {
            throw .reactorFailed("login verifier thread", error)
        }
        lastSync = clock.now
    }

    // MARK: - The loop

    /// On the reactor thread: loads the storage, tells `started` how that went, then serves until
    /// a `stop` command; then closes every connection and the storage. Clients that connect
    /// during the replay wait in the listeners' backlogs.
    func run(started: (Result<Void, BrokerError>) -> Void) {
        if let directory = configuration.storageDirectory {
            do {
                try restore(from: directory)
            } catch {
                shutDown()
                started(.failure(error))
                return
            }
        }
        started(.success(()))
        let sweepInterval = Duration.milliseconds(250)
        var nextSweep = clock.now.advanced(by: sweepInterval)
        while running {
            turn &+= 1
            let ready: Int
            do {
                let untilSweep = max(.zero, clock.now.duration(to: nextSweep))
                ready = try epoll.wait(timeout: backlog.isEmpty ? untilSweep : .zero)
            } catch {
                log(.error, "reactor_failed", ["error": "\(error)"])
                break
            }
            for index in 0..<ready {
                let event = epoll.event(at: index)
                switch event.token {
                case Self.wakeupToken: runCommands()
                case 1...UInt64(listeners.count): acceptAll(from: listeners[Int(event.token) - 1])
                default:
                    guard let connection = connections[event.token] else { continue }
                    if event.isWritable { flush(connection) }
                    if event.isReadable || event.isBroken { read(from: connection) }
                }
            }
            serveBacklog()
            let now = clock.now
            if now >= nextSweep {
                sweep(now: now)
                nextSweep = now.advanced(by: sweepInterval)
            }
            finishTurn(now: now)
        }
        shutDown()
    }

    /// End of a turn: scheduled closes, storage records written, then sockets flushed, so an
    /// acknowledgement never reaches a client before the record behind it is in the file; the
    /// connections ended in the turn are closed last, once what they are owed has been written.
    private func finishTurn(now: ContinuousClock.Instant) {
        while let (connection, reason) = closeQueue.popLast() {
            close(connection, reason: reason, publishWill: true, reset: true)
        }
        if policyActivity {
            policyActivity = false
            publishPolicyMessages(now: now)
        }
        flushStorage(now: now)
        // Before the answers leave, so a client that has seen its answer reads statistics that
        // include what it asked for (what flushing changes shows at the next turn's end).
        mailbox.publish(statistics: statistics, connections: connections.count, sessions: sessions.count,
                        subscriptions: subscriptions.count, retained: retained.count)
        for connection in flushQueue {
            connection.flushScheduled = false
            flush(connection)
        }
        flushQueue.removeAll(keepingCapacity: true)
        finishClosing()
    }

    private func shutDown() {
        verifier.stop()
        for connection in Array(connections.values) {
            close(connection, reason: "broker stopping", publishWill: false)
        }
        for session in sessions.values {
            if case let .local(sink)? = session.endpoint { sink.finish() }
        }
        for listener in listeners { listener.socket.close() }
        if let storage {
            storage.close()
            self.storage = nil
        }
        finishClosing()
        mailbox.markStopped()
    }

    // MARK: - Sockets

    private func read(from connection: Connection) {
        connection.servedInTurn = turn
        var work = 0
        // Packets left from an earlier turn go first, in order; the socket waits until they are handled.
        guard handleBuffered(connection, work: &work) else { return }
        // At most a few reads per turn, so one busy client cannot starve the others.
        for _ in 0..<4 {
            let socket = connection.socket
            let received: (count: Int, filledSpace: Bool)?
            do {
                if let tls = connection.tls {
                    received = try readTLS(connection, tls)
                } else if let http = connection.http {
                    received = try readPlainHTTP(connection, http)
                } else {
                    // Straight into the connection's framer: no copy between the socket and the decoder.
                    received = try connection.framer.read { space throws(Errno) in try socket.read(into: space) }
                }
            } catch {
                close(connection, reason: "read failed: \(error)", publishWill: true)
                return
            }
            guard let received else { return }
            if received.count == 0 {
                close(connection, reason: "connection closed by the client", publishWill: true)
                return
            }
            connection.lastReceived = clock.now
            guard handleBuffered(connection, work: &work) else { return }
            if !received.filledSpace { return }
        }
    }

    /// Handles the whole packets in the connection's framer until `work` (packets plus the
    /// retained messages their SUBSCRIBEs matched) reaches `workPerTurn`; what is left waits in
    /// the framer and the connection goes on the backlog. True if the framer has no whole packet
    /// left and the connection is open.
    private func handleBuffered(_ connection: Connection, work: inout Int) -> Bool {
        // An HTTP connection: its requests are answered here; once upgraded, its frames' MQTT
        // bytes go into the framer and are handled below like a TCP client's.
        if let http = connection.http, !serveHTTPInput(connection, http, work: &work) {
            // Its requests are answered: the socket is read on unless the connection waits
            // (a login, its last answer), has work left for a later turn, or has ended.
            return connection.isOpen && !connection.isHeld && !connection.backlogged && !http.isWebSocket
        }
        do {
            while connection.isOpen {
                // A CONNECT being verified, or a client paused by its message rate: the rest of
                // its packets wait in the framer until it is let go (`resume`).
                guard !connection.isHeld else { return false }
                guard work < Self.workPerTurn else {
                    if !connection.backlogged {
                        connection.backlogged = true
                        backlog.append(connection)
                    }
                    return false
                }
                guard let packet = try connection.framer.nextInbound() else { break }
                retainedMatchedByPacket = 0
                handle(packet, from: connection)
                work += 1 + retainedMatchedByPacket
            }
        } catch {
            refuseMalformed(connection, error)
            return false
        }
        return connection.isOpen
    }

    /// Serves the connections whose packets waited for a later turn, each once per turn (one
    /// that was readable this turn has had its share already).
    private func serveBacklog() {
        guard !backlog.isEmpty else { return }
        let waiting = backlog
        backlog.removeAll(keepingCapacity: true)
        for connection in waiting where connection.isOpen && connection.backlogged {
            if connection.servedInTurn == turn {
                backlog.append(connection)
                continue
            }
            connection.backlogged = false
            read(from: connection)
        }
    }

    /// A packet that breaks the rules: CONNACK with a return code where the spec gives one
    /// (3.1.4), then the connection is closed (after the answers to the packets before it).
    private func refuseMalformed(_ connection: Connection, _ error: MQTTError) {
        statistics.protocolErrors += 1
        if case .awaitingConnect = connection.phase, let code = error.connectReturnCode {
            connection.appendOutput { $0.appendConnectAcknowledgement(sessionPresent: false, returnCode: code) }
        }
        close(connection, reason: "protocol error: \(error)", publishWill: true)
    }

    /// Queues `connection` for a flush at the end of the turn.
    func scheduleFlush(_ connection: Connection) {
        guard !connection.flushScheduled else { return }
        connection.flushScheduled = true
        flushQueue.append(connection)
    }

    /// Closes a slow consumer at the end of the turn (safe while a message is being fanned out).
    func scheduleClose(_ connection: Connection, reason: String) {
        guard !connection.closeScheduled else { return }
        connection.closeScheduled = true
        statistics.slowConsumersDisconnected += 1
        closeQueue.append((connection, reason))
    }

    func flush(_ connection: Connection) {
        guard connection.isOpen else { return }
        do {
            let done = try connection.writePending()
            if done, connection.http?.closeWhenFlushed == true {
                close(connection, reason: "HTTP answer sent", publishWill: false)
                return
            }
            if done == connection.watchingWritable {
                connection.watchingWritable = !done
                try updateInterest(connection)
            }
        } catch {
            close(connection, reason: "write failed: \(error)", publishWill: true)
        }
    }

    /// Ends the connection: nothing more of its input is handled; ends a clean session; publishes
    /// the will unless told not to (DISCONNECT, shutdown) or already cleared. The socket closes at
    /// the end of the turn, after the storage records and the answers already owed to the client
    /// (a PUBACK for a PUBLISH delivered before a DISCONNECT, 3.3.4); `reset` closes it now and
    /// drops what is unsent (a client that stopped reading).
    func close(_ connection: Connection, reason: String, publishWill: Bool, reset: Bool = false) {
        guard connection.isOpen else { return }
        if reset {
            connection.close(reset: true)
        } else {
            connection.phase = .closing
            closingQueue.append(connection)
        }
        connections[connection.token] = nil
        let will = publishWill ? connection.will : nil
        connection.will = nil
        if let session = connection.session {
            log(.info, "client_disconnected", ["client": session.clientID, "address": connection.remoteAddress, "reason": reason])
            recordActivity(.disconnected(session.identity))
            if session.connection === connection {
                session.endpoint = nil
                if !session.persistent { endSession(session) }
            }
        }
        if let will {
            publish(topic: will.topic, payload: will.payload[...], qos: will.qos, retain: will.retain)
        }
    }

    /// Closes the sockets of the connections ended in this turn, each after one non-blocking
    /// attempt to write what it is owed: waiting for a client that does not read would let it hold
    /// a descriptor after its end, and the few bytes of answers fit an empty socket buffer.
    private func finishClosing() {
        for connection in closingQueue {
            connection.finishClosing()
        }
        closingQueue.removeAll(keepingCapacity: true)
    }

    /// Keep-alive (1.5 × the interval, 3.1.2.10) and CONNECT deadlines.
    private func sweep(now: ContinuousClock.Instant) {
        resumePausedListeners(now: now)
        publishPolicyMessages(now: now)
        consoleSessions.expire(now: now)
        for connection in Array(connections.values) {
            if let until = connection.pausedUntil, now >= until { resume(connection) }
            if let http = connection.http, !http.isWebSocket, connection.tls?.isHandshaking != true {
                // HTTP: idle keep-alive and request deadlines; MQTT's apply once upgraded.
                if now >= http.deadline {
                    expireHTTP(connection, http)
                } else if connection.lastReceived.duration(to: now) > .seconds(1) {
                    connection.releaseIdleBuffers()
                }
                continue
            }
            switch connection.phase {
            case let .awaitingConnect(deadline) where now >= deadline:
                if let tls = connection.tls, tls.isHandshaking {
                    failHandshake(connection, tls, reason: "no handshake within \(configuration.tlsHandshakeTimeout)")
                } else {
                    close(connection, reason: "no CONNECT within \(configuration.connectTimeout)", publishWill: false)
                }
            case .connected:
                let silence = connection.lastReceived.duration(to: now)
                if connection.keepAlive > 0 && silence > .milliseconds(Int64(connection.keepAlive) * 1500) {
                    close(connection, reason: "keep-alive timeout (\(connection.keepAlive) s × 1.5)", publishWill: true)
                } else if silence > .seconds(1) {
                    connection.releaseIdleBuffers()
                }
            default:
                break
            }
        }
    }

    /// Ends the loop after this turn (a `.stop` command).
    func stopRunning() { running = false }

    func log(_ level: Logger.Level, _ event: String, _ fields: KeyValuePairs<String, String>) {
        logger.log(level, event, fields)
    }
}
