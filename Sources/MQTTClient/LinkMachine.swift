import MQTT
import POSIX

/// The life of one upstream link, without sockets, TLS or a clock of its own: waiting → resolving
/// → connecting (TCP, each address in turn) → securing (TLS, done by the driver) → logging in
/// (CONNECT/CONNACK through a `ClientConnectionStateMachine`) → up (SUBSCRIBE after every CONNACK,
/// then messages pulled from the source, at most `maximumInFlight` unacknowledged) → down →
/// waiting again after a backoff delay. The driver feeds it events with the current instant and
/// carries out the actions it returns, so tests drive it with bytes and instants alone.
///
/// Backoff: the n-th attempt in a row without a healthy connection waits `initialDelay × 2^(n-1)`,
/// at most `maximumDelay`, each moved by ± `jitter` of itself (the random source is injected). A
/// connection is healthy, and the count starts again, when it stayed up `stableAfter` (30 s) or
/// had at least one message acknowledged: proof that the server takes what the link sends, while
/// a server that accepts the login and drops the link at once still gets growing delays.
package struct UpstreamLinkMachine<Clock: _Concurrency.Clock>: Sendable where Clock.Duration == Duration {
    package typealias Action = UpstreamLinkAction<Clock.Instant>
    typealias Client = ClientConnectionStateMachine<Clock>

    enum Phase: Sendable {
        case idle
        case waiting(retryAt: Clock.Instant)
        case resolving(deadline: Clock.Instant)
        case connecting(addresses: [String], index: Int, deadline: Clock.Instant)
        case securing(deadline: Clock.Instant)
        case loggingIn
        case up(since: Clock.Instant)
        case removed
    }

    let configuration: UpstreamLinkConfiguration
    var phase = Phase.idle
    var client: Client?
    var random: any RandomNumberGenerator & Sendable
    /// Attempts since the last healthy connection (the backoff exponent).
    var failures = 0
    var tlsVersion: String?
    /// The address of the current connection, for logs.
    var address: String?
    /// Tokens of the PUBLISH commands not yet completed, by command.
    var inFlight: [ClientCommandID: UInt64] = [:]
    var subscribeCommand: ClientCommandID?
    var nextCommand: ClientCommandID = 1
    var acknowledgedOnConnection = false
    /// The source should be asked for messages at the end of this event.
    var wantsMessages = false
    var askAgainAt: Clock.Instant?
    var clientTickAt: Clock.Instant?
    var scheduledTick: Clock.Instant?

    /// A machine for one link; `random` moves the backoff delays (inject a seeded one in tests).
    package init(configuration: UpstreamLinkConfiguration, random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.configuration = configuration
        self.random = random
    }

    /// Whether CONNACK accepted the current connection.
    package var isUp: Bool { if case .up = phase { true } else { false } }

    /// Whether the link has been removed (nothing more happens).
    package var isRemoved: Bool { if case .removed = phase { true } else { false } }

    /// Room for more unacknowledged messages.
    package var room: Int { max(0, configuration.maximumInFlight - inFlight.count) }

    // MARK: - Events

    /// The first attempt, now.
    package mutating func start(at now: Clock.Instant) -> [Action] {
        guard case .idle = phase else { return [] }
        return finish(beginAttempt(at: now))
    }

    /// The addresses of the host, in the order to try them.
    package mutating func resolved(_ addresses: [String], at now: Clock.Instant) -> [Action] {
        guard case let .resolving(deadline) = phase else { return [] }
        guard let first = addresses.first else {
            return finish(goDown(.connectionFailed("DNS: no address for \(configuration.host)"), at: now))
        }
        phase = .connecting(addresses: addresses, index: 0, deadline: deadline)
        address = first
        return finish([.connect(address: first, port: configuration.port)])
    }

    /// The host name could not be resolved (`detail`: the resolver's text).
    package mutating func resolutionFailed(_ detail: String, at now: Clock.Instant) -> [Action] {
        guard case .resolving = phase else { return [] }
        return finish(goDown(.connectionFailed("DNS: cannot resolve \(configuration.host): \(detail)"), at: now))
    }

    /// The TCP connection is up.
    package mutating func transportConnected(at now: Clock.Instant) -> [Action] {
        guard case .connecting = phase else { return [] }
        guard configuration.tls != nil else { return finish(beginLogin(at: now)) }
        phase = .securing(deadline: now.advanced(by: configuration.connectTimeout))
        return finish([.startTLS(serverName: configuration.serverName ?? configuration.host)])
    }

    /// The TLS handshake is done (`version`: "TLSv1.3", for the log).
    package mutating func transportSecured(version: String, at now: Clock.Instant) -> [Action] {
        guard case .securing = phase else { return [] }
        tlsVersion = version
        return finish(beginLogin(at: now))
    }

    /// The connection failed or closed (`detail` says how: "connection refused by …", "TLS
    /// handshake failed: …", "the server closed the connection"). While connecting, the next
    /// address is tried.
    package mutating func transportFailed(_ detail: String, at now: Clock.Instant) -> [Action] {
        switch phase {
        case let .connecting(addresses, index, deadline) where index + 1 < addresses.count:
            phase = .connecting(addresses: addresses, index: index + 1, deadline: deadline)
            address = addresses[index + 1]
            return finish([.closeTransport(flushingWrites: false), .connect(address: addresses[index + 1], port: configuration.port)])
        case .connecting, .securing:
            return finish(goDown(.connectionFailed(detail), at: now))
        case .loggingIn, .up:
            var actions = carry(withClient { $0.transportClosed(detail, at: now) }, at: now)
            if !isWaiting { actions += goDown(client?.ended ?? .connectionClosed(detail), at: now) }
            return finish(actions)
        case .idle, .waiting, .resolving, .removed:
            return []
        }
    }

    /// Plaintext bytes from the server.
    package mutating func received(_ bytes: some Collection<UInt8>, at now: Clock.Instant) -> [Action] {
        switch phase {
        case .loggingIn, .up: return finish(carry(withClient { $0.received(bytes, at: now) }, at: now))
        default: return []
        }
    }

    /// Time passed: the retry, connect deadlines, keep-alive and the source's `askAgainAt`.
    package mutating func tick(at now: Clock.Instant) -> [Action] {
        // The driver forgets its tick once it fires: the next one is always given again.
        scheduledTick = nil
        var actions: [Action] = []
        switch phase {
        case let .waiting(retryAt) where now >= retryAt:
            actions = beginAttempt(at: now)
        case let .resolving(deadline) where now >= deadline:
            actions = goDown(.timedOut("DNS: no address for \(configuration.host) within \(configuration.connectTimeout)"), at: now)
        case let .connecting(_, _, deadline) where now >= deadline:
            actions = goDown(.timedOut("no TCP connection to \(serverText) within \(configuration.connectTimeout)"), at: now)
        case let .securing(deadline) where now >= deadline:
            actions = goDown(.timedOut("no TLS handshake with \(serverText) within \(configuration.connectTimeout)"), at: now)
        case .loggingIn, .up:
            if let due = askAgainAt, now >= due {
                askAgainAt = nil
                wantsMessages = true
            }
            if let due = clientTickAt, now >= due {
                clientTickAt = nil
                actions = carry(withClient { $0.tick(at: now) }, at: now)
            }
        default:
            break
        }
        return finish(actions)
    }

    /// The source has new messages.
    package mutating func wake(at now: Clock.Instant) -> [Action] {
        guard isUp else { return [] }
        wantsMessages = true
        return finish([])
    }

    /// What the source gave for a `pullMessages`; `askAgainAt` as `nextMessages` returned it.
    package mutating func offered(_ messages: [OutboundMessage], askAgainAt: Clock.Instant?, at now: Clock.Instant) -> [Action] {
        // Down since the pull (cannot happen with a driver that answers at once): the source was
        // told, and offers them again after the next linkUp.
        guard isUp else { return [] }
        self.askAgainAt = askAgainAt
        var actions: [Action] = []
        for message in messages {
            let id = newCommand()
            inFlight[id] = message.token
            actions += carry(withClient { $0.command(id, .publish(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain), at: now) }, at: now)
            guard isUp else { break }
        }
        return finish(actions)
    }

    /// The link is being removed: DISCONNECT if logged in, close, and nothing more.
    package mutating func remove(at now: Clock.Instant) -> [Action] {
        let hadTransport = hasTransport
        let wasLoggingIn = client != nil
        phase = .removed
        var actions: [Action] = []
        if wasLoggingIn {
            actions = carry(withClient { $0.disconnect(at: now) }, at: now)
        } else if hadTransport {
            actions = [.closeTransport(flushingWrites: false)]
        }
        client = nil
        inFlight = [:]
        actions.append(.log(UpstreamLogEntry(.info, "upstream_removed", ["link": configuration.name, "server": serverText])))
        return finish(actions)
    }
}
