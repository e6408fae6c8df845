import MQTT
import POSIX

/// The steps the events share: starting an attempt, logging in, the client machine's actions
/// turned into the link's, going down with a backoff delay.
extension UpstreamLinkMachine {
    var serverText: String { configuration.server }

    var isWaiting: Bool { if case .waiting = phase { true } else { false } }

    /// Whether a socket is open for the current attempt.
    var hasTransport: Bool {
        switch phase {
        case .connecting, .securing, .loggingIn, .up: true
        case .idle, .waiting, .resolving, .removed: false
        }
    }

    mutating func beginAttempt(at now: Clock.Instant) -> [Action] {
        phase = .resolving(deadline: now.advanced(by: configuration.connectTimeout))
        address = nil
        return [.resolve(host: configuration.host)]
    }

    mutating func beginLogin(at now: Clock.Instant) -> [Action] {
        phase = .loggingIn
        client = Client(connect: configuration.connect, connectTimeout: configuration.connectTimeout, peer: serverText)
        acknowledgedOnConnection = false
        return carry(withClient { $0.transportConnected(at: now) }, at: now)
    }

    mutating func withClient(_ body: (inout Client) -> [Client.Action]) -> [Client.Action] {
        guard var current = client else { return [] }
        client = nil
        let actions = body(&current)
        client = current
        return actions
    }

    mutating func newCommand() -> ClientCommandID {
        defer { nextCommand &+= 1 }
        return nextCommand
    }

    /// The client machine's actions as the link's.
    mutating func carry(_ clientActions: [Client.Action], at now: Clock.Instant) -> [Action] {
        var actions: [Action] = []
        for action in clientActions {
            switch action {
            case let .write(bytes):
                actions.append(.write(bytes))
            case let .connectionAccepted(sessionPresent):
                actions += linkCameUp(sessionPresent: sessionPresent, at: now)
            case let .deliver(publish):
                actions.append(.received(publish))
            case let .complete(id, result):
                actions += complete(id, result, at: now)
            case let .scheduleTick(instant):
                clientTickAt = instant
            case let .closeTransport(reason, flushingWrites):
                if isRemoved {
                    actions.append(.closeTransport(flushingWrites: flushingWrites))
                } else if !isWaiting {
                    actions += goDown(reason, at: now)
                }
            }
        }
        return actions
    }

    private mutating func linkCameUp(sessionPresent: Bool, at now: Clock.Instant) -> [Action] {
        phase = .up(since: now)
        var actions: [Action] = [
            .log(UpstreamLogEntry(.info, "upstream_connected", ["link": configuration.name, "server": serverText,
                                                                 "address": address ?? configuration.host, "tls": tlsVersion ?? "none",
                                                                 "session_present": "\(sessionPresent)"])),
            .linkUp(sessionPresent: sessionPresent),
        ]
        if !configuration.subscriptions.isEmpty {
            let id = newCommand()
            subscribeCommand = id
            let subscriptions = configuration.subscriptions
            actions += carry(withClient { $0.command(id, .subscribe(subscriptions), at: now) }, at: now)
        }
        wantsMessages = true
        return actions
    }

    private mutating func complete(_ id: ClientCommandID, _ result: ClientCommandResult, at now: Clock.Instant) -> [Action] {
        if id == subscribeCommand {
            subscribeCommand = nil
            guard case let .subscribed(codes) = result else { return [] }
            var actions: [Action] = []
            for (subscription, code) in zip(configuration.subscriptions, codes) where code == .failure {
                actions.append(.log(UpstreamLogEntry(.error, "upstream_subscription_refused",
                                                     ["link": configuration.name, "server": serverText, "filter": subscription.filter])))
                actions.append(.subscriptionRefused(subscription.filter))
            }
            return actions
        }
        guard let token = inFlight.removeValue(forKey: id) else { return [] }
        switch result {
        case .published:
            acknowledgedOnConnection = true
            wantsMessages = true
            return [.acknowledged(token)]
        case let .failed(error) where client?.ended == nil:
            // The message itself cannot be sent (it does not encode: an invalid topic). Resending
            // it would block everything behind it forever: it is dropped, loudly.
            wantsMessages = true
            return [.log(UpstreamLogEntry(.error, "upstream_message_dropped", ["link": configuration.name, "token": "\(token)",
                                                                                "error": error.upstreamReason])),
                    .acknowledged(token)]
        default:
            // The connection ended under it: the source offers it again after the next linkUp.
            return []
        }
    }

    /// The connection (or the attempt) is over: the source is told, the next attempt waits.
    mutating func goDown(_ error: MQTTError, at now: Clock.Instant) -> [Action] {
        var actions: [Action] = hasTransport ? [.closeTransport(flushingWrites: false)] : []
        var wasUp = false
        if case let .up(since) = phase {
            wasUp = true
            if acknowledgedOnConnection || since.advanced(by: configuration.reconnect.stableAfter) <= now { failures = 0 }
        }
        failures += 1
        let delay = backoffDelay(attempt: failures)
        let retryAt = now.advanced(by: delay)
        phase = .waiting(retryAt: retryAt)
        client = nil
        inFlight = [:]
        subscribeCommand = nil
        askAgainAt = nil
        clientTickAt = nil
        wantsMessages = false
        tlsVersion = nil
        actions.append(.log(UpstreamLogEntry(.error, wasUp ? "upstream_disconnected" : "upstream_connect_failed",
                                             ["link": configuration.name, "server": serverText, "error": error.upstreamReason,
                                              "retry_in_ms": "\(delay.milliseconds)"])))
        actions.append(.linkDown(error, retryAt: retryAt))
        return actions
    }

    /// After each event: a pull if the source may have messages and there is room, and the next
    /// tick if it changed. While messages are in flight, the pull waits until a quarter of the
    /// window is free: a backlog then goes out in batches of PUBLISH packets, one write each,
    /// instead of one or two per PUBACK, which cost the loop and the broker a segment each
    /// (the drain bench: ~2.9 TCP segments per message against ~2.5, and a quarter more CPU).
    /// A live message waits at most for that quarter's PUBACKs.
    mutating func finish(_ actions: [Action]) -> [Action] {
        var actions = actions
        if isUp, wantsMessages, room > 0, inFlight.isEmpty || room * 4 >= configuration.maximumInFlight {
            wantsMessages = false
            actions.append(.pullMessages(limit: room))
        }
        let next = nextDeadline
        if next != scheduledTick {
            scheduledTick = next
            actions.append(.scheduleTick(at: next))
        }
        return actions
    }

    private var nextDeadline: Clock.Instant? {
        switch phase {
        case .idle, .removed: nil
        case let .waiting(retryAt): retryAt
        case let .resolving(deadline), let .connecting(_, _, deadline), let .securing(deadline): deadline
        case .loggingIn: clientTickAt
        case .up:
            switch (clientTickAt, askAgainAt) {
            case let (tick?, ask?): min(tick, ask)
            case let (tick, ask): tick ?? ask
            }
        }
    }
}
