import MQTT
import POSIX

/// The upstream loop's state and its reactor: one thread owns every link (machine, socket, TLS
/// session, buffers) and calls the sources. Other threads reach it only through the mailbox.
/// `@unchecked Sendable` because it is handed to its thread once and then touched only there.
final class UpstreamLoopCore: @unchecked Sendable {
    let mailbox: UpstreamMailbox
    let logger: Logger
    let clock = ContinuousClock()
    let epoll: Epoll
    let resolver: UpstreamResolver
    private static let wakeupToken: UInt64 = 0
    var links: [UInt64: UpstreamLinkState] = [:]
    /// Socket tokens to link ids.
    var linkByToken: [UInt64: UInt64] = [:]
    var nextToken: UInt64 = 1
    private var running = true

    init(mailbox: UpstreamMailbox, logger: Logger) throws(MQTTError) {
        self.mailbox = mailbox
        self.logger = logger
        do {
            epoll = try Epoll()
            try epoll.add(mailbox.wakeup.descriptor, token: Self.wakeupToken, interest: .readable)
        } catch {
            throw .connectionFailed("upstream loop: cannot create its epoll instance: \(error)")
        }
        do {
            resolver = try UpstreamResolver(mailbox: mailbox)
        } catch {
            throw .connectionFailed("upstream loop: cannot start its resolver thread: \(error)")
        }
    }

    /// On the loop thread: serves until `stop`, then removes every link (DISCONNECT) and ends.
    func run() {
        while running {
            let ready: Int
            do {
                ready = try epoll.wait(timeout: untilNextTick())
            } catch {
                logger.log(.error, "upstream_loop_failed", ["error": "\(error)"])
                break
            }
            for index in 0..<ready {
                let event = epoll.event(at: index)
                if event.token == Self.wakeupToken {
                    runCommands()
                } else if let id = linkByToken[event.token], let link = links[id], link.token == event.token {
                    serve(link, event)
                }
            }
            let now = clock.now
            for link in Array(links.values) {
                if let due = link.serviceAt, now >= due { service(link, at: now) }
                guard let due = link.tickAt, now >= due else { continue }
                link.tickAt = nil
                perform(link, link.machine.tick(at: now))
            }
        }
        let now = clock.now
        for link in Array(links.values) { forget(link, at: now) }
        resolver.stop()
        // Queued removals are answered (their link is gone with the loop).
        mailbox.markStopped { command in
            if case let .remove(_, done) = command { done() }
        }
    }

    /// How long epoll may sleep: until the earliest tick a link asked for (nil: until woken).
    private func untilNextTick() -> Duration? {
        var earliest: ContinuousClock.Instant?
        for link in links.values {
            if let due = link.tickAt, earliest.map({ due < $0 }) ?? true { earliest = due }
            if let due = link.serviceAt, earliest.map({ due < $0 }) ?? true { earliest = due }
        }
        guard let earliest else { return nil }
        return max(.zero, clock.now.duration(to: earliest))
    }

    private func runCommands() {
        mailbox.wakeup.drain()  // before take(): send wakes only an empty queue
        for command in mailbox.take() {
            let now = clock.now
            switch command {
            case .stop:
                running = false
            case let .add(handle, configuration, source):
                let link = UpstreamLinkState(handle: handle, configuration: configuration, source: source)
                links[link.id] = link
                service(link, at: now)
                perform(link, link.machine.start(at: now))
            case let .wake(id):
                guard let link = links[id] else { continue }
                // Cleared before the source is asked: a message posted from here on wakes again.
                link.handle.wakeTaken()
                service(link, at: now)
                perform(link, link.machine.wake(at: now))
            case let .remove(id, done):
                if let link = links[id] { forget(link, at: now) }
                done()
            case let .resolved(id, answer):
                guard let link = links[id] else { continue }
                switch answer {
                case let .success(addresses): perform(link, link.machine.resolved(addresses, at: now))
                case let .failure(error): perform(link, link.machine.resolutionFailed(error.message, at: now))
                }
            }
        }
    }

    /// Lets the source store what was posted, whether the link is up or not.
    private func service(_ link: UpstreamLinkState, at now: ContinuousClock.Instant) {
        link.serviceAt = link.source.service(at: now)
    }

    /// Removes a link: DISCONNECT if it is logged in, its socket closed.
    private func forget(_ link: UpstreamLinkState, at now: ContinuousClock.Instant) {
        perform(link, link.machine.remove(at: now))
        linkByToken[link.token] = nil
        link.dropTransport(epoll: epoll)
        links[link.id] = nil
        link.handle.update { $0.isConnected = false }
    }

    // MARK: - Actions

    /// Carries out a machine's actions in order, with the events they lead to (a pull's
    /// messages, an address connected at once), then writes what the socket takes.
    func perform(_ link: UpstreamLinkState, _ first: [UpstreamLinkAction<ContinuousClock.Instant>]) {
        var queue = first[...]
        var more: [UpstreamLinkAction<ContinuousClock.Instant>] = []
        while true {
            if queue.isEmpty {
                guard !more.isEmpty else { break }
                queue = more[...]
                more = []
            }
            let action = queue.removeFirst()
            let now = clock.now
            switch action {
            case let .resolve(host):
                if Socket.isNumericAddress(host) {
                    more += link.machine.resolved([host], at: now)
                } else {
                    resolver.resolve(link: link.id, host: host, port: link.configuration.port)
                }
            case let .connect(address, port):
                more += connect(link, to: address, port: port)
            case let .startTLS(serverName):
                more += startTLS(link, serverName: serverName)
            case let .write(bytes):
                more += write(link, bytes)
            case let .closeTransport(flushingWrites):
                closeTransport(link, flushingWrites: flushingWrites)
            case let .scheduleTick(instant):
                link.tickAt = instant
            case let .linkUp(sessionPresent):
                link.handle.update {
                    $0.connects += 1
                    $0.isConnected = true
                }
                link.source.linkUp(sessionPresent: sessionPresent, at: now)
            case let .linkDown(error, retryAt):
                let wasUp = link.handle.statistics.isConnected
                link.handle.update {
                    if !wasUp { $0.connectFailures += 1 }
                    $0.isConnected = false
                    $0.lastError = error.upstreamReason
                }
                link.source.linkDown(error, retryAt: retryAt, at: now)
            case let .pullMessages(limit):
                let offer = link.source.nextMessages(limit: limit, at: now)
                if !offer.messages.isEmpty { link.handle.update { $0.published += offer.messages.count } }
                more += link.machine.offered(offer.messages, askAgainAt: offer.askAgainAt, at: now)
            case let .acknowledged(token):
                link.handle.update { $0.acknowledged += 1 }
                link.source.acknowledged(token, at: now)
            case let .received(publish):
                link.handle.update { $0.received += 1 }
                link.source.received(publish)
            case let .subscriptionRefused(filter):
                link.source.subscriptionRefused(filter)
            case let .log(entry):
                logger.log(entry.level, entry.event, entry.fields.map { ($0.key, $0.value) })
            }
        }
        flush(link)
    }
}
