import Foundation
import GatewayCore
import Mapping
import MQTT
import MQTTClient
import POSIX
import Storage
import Synchronization

/// How one drain went, either peer.
struct DrainFigures {
    /// First to last backlog message at the subscriber.
    var seconds: Double
    var distinct: Int
    var received: Int
    /// modbridge: CONNACK → the live message at the subscriber; the bridge: the first backlog
    /// message's arrival (when the live one was published into the local broker) → its arrival.
    var liveMilliseconds: Double?
    /// Backlog messages that reached the subscriber before the live one.
    var backlogBeforeLive: Int
    /// modbridge: CONNACK → the last backlog message.
    var connackToLastSeconds: Double?
    /// Posting and storing (modbridge), or publishing into the local broker (the bridge).
    var fillSeconds: Double
    var notes: [String] = []
    /// CPU over the drain (first to last message), % of one core: the upstream Mosquitto U, and
    /// the peer (modbridge: the bench's mqtt-upstream thread; the bridge: Mosquitto L).
    var upstreamCPUPercent = 0.0
    var peerCPUPercent = 0.0
    /// TCP segments the machine sent over the drain (every loopback connection), per message.
    var segmentsPerMessage = 0.0

    var rate: Double { seconds > 0 ? Double(distinct) / seconds : 0 }
}

/// modbridge's side of the drain: an `UpstreamOutbox` over a queue in `folder`, on an
/// `UpstreamLoop`, as `modbridge run` builds one per connection. The messages are posted while
/// the link cannot connect (the upstream broker is down), so each reaches the queue on disk;
/// then the broker starts, the subscriber subscribes, and the link is added again.
func measureOutboxDrain(folder: String, upstream: MosquittoPeer, login: (user: String, password: String),
                        subscriberLogin: (user: String, password: String), messages: Int, devices: Int) async throws -> DrainFigures {
    let problems = Mutex<[String]>([])
    let logger = Logger(minimumLevel: .warning) { record in
        // The link to the stopped broker fails on purpose while the backlog is posted.
        guard record.event != "upstream_connect_failed" else { return }
        problems.withLock { $0.append("\(record.level) \(record.event) \(record.fields.map { "\($0.0)=\($0.1)" }.joined(separator: " "))") }
    }
    let syncer = try QueueSyncer()
    let loop = try UpstreamLoop(logger: logger)
    let outbox = try UpstreamOutbox(name: "bench", directory: folder + "/queue", limits: MessageQueueLimits(), replayRate: 0,
                                    syncInterval: .seconds(1), syncer: syncer, logger: logger,
                                    wallMilliseconds: { Timestamp.nowMilliseconds() }, onReceive: { _ in })
    let probe = LiveProbe(outbox)
    let configuration = UpstreamLinkConfiguration(
        name: "bench", host: "127.0.0.1", port: upstream.port,
        connect: Connect(clientIdentifier: "modbridge-bench", cleanSession: false, keepAlive: 60,
                         username: login.user, password: Array(login.password.utf8)),
        reconnect: ReconnectPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(1)))
    var subscriber: BenchSubscriber?
    var link: UpstreamLink?
    do {
        // The backlog: posted while the broker is down, each message on disk before it could be sent.
        let outage = loop.add(configuration, source: probe)
        outbox.attach(outage)
        let fillStart = ContinuousClock.now
        let topics = (0..<devices).map { BenchMessages.topic(device: $0 + 1) }
        for index in 0..<messages {
            outbox.post(QueuedPublish(topic: topics[index % devices],
                                      payload: BenchMessages.payload(index, wallMilliseconds: Timestamp.nowMilliseconds()), retain: false))
        }
        var stored = false
        for _ in 0..<60_000 {
            if outbox.status.depth >= messages { stored = true; break }
            usleep(1000)
        }
        guard stored else { throw BenchError("modbridge: the outbox stored \(outbox.status.depth) of \(messages) messages in 60 s") }
        let fillSeconds = seconds(fillStart.duration(to: .now))
        await outage.remove()

        try upstream.start()
        subscriber = try BenchSubscriber(port: upstream.port, clientID: "bench-subscriber", username: subscriberLogin.user,
                                         password: subscriberLogin.password,
                                         filters: [Subscription(filter: "plant/#", qos: .atMostOnce)], expectedBacklog: messages)
        probe.arm()
        let up = loop.add(configuration, source: probe)
        outbox.attach(up)
        link = up
        let cpu = DrainCPU(upstream: upstream.pid, peer: nil)
        _ = subscriber?.wait(timeout: .seconds(60), until: { $0.firstBacklog != nil })
        cpu.begin()
        guard let received = subscriber?.wait(timeout: .seconds(180), until: { $0.distinct >= messages && $0.live != nil }) else {
            let seen = subscriber?.reception ?? Reception()
            throw BenchError("modbridge: the subscriber got \(seen.distinct) of \(messages) messages (live: \(seen.live != nil)) "
                             + "\(seen.failure ?? ""); outbox: \(outbox.status); problems: \(problems.withLock { $0 })")
        }
        let connectedAt = probe.connectedAt
        var figures = DrainFigures(
            seconds: seconds(received.firstBacklog!.duration(to: received.lastBacklog!)),
            distinct: received.distinct, received: received.backlogReceived,
            liveMilliseconds: connectedAt.flatMap { at in received.live.map { milliseconds(at.duration(to: $0)) } },
            backlogBeforeLive: received.backlogBeforeLive,
            connackToLastSeconds: connectedAt.map { seconds($0.duration(to: received.lastBacklog!)) },
            fillSeconds: fillSeconds)
        (figures.upstreamCPUPercent, figures.peerCPUPercent, figures.segmentsPerMessage) = cpu.end(messages: messages)
        let status = outbox.status
        if status.resent > 0 { figures.notes.append("\(status.resent) sent again") }
        figures.notes += problems.withLock { $0 }
        await up.remove()
        link = nil
        subscriber?.stop()
        outbox.close()
        await loop.stop()
        syncer.stop()
        return figures
    } catch {
        subscriber?.stop()
        if let link { await link.remove() }
        outbox.close()
        await loop.stop()
        syncer.stop()
        throw error
    }
}

/// The outbox as the link's source, plus the live message of the drain row: when armed, at the
/// link's CONNACK it notes the instant and posts one message right then, as a bus would.
final class LiveProbe: UpstreamLinkSource, Sendable {
    private let outbox: UpstreamOutbox
    private let state = Mutex<(armed: Bool, connectedAt: ContinuousClock.Instant?)>((false, nil))

    init(_ outbox: UpstreamOutbox) { self.outbox = outbox }

    func arm() { state.withLock { $0.armed = true } }

    var connectedAt: ContinuousClock.Instant? { state.withLock { $0.connectedAt } }

    func service(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? { outbox.service(at: now) }

    func linkUp(sessionPresent: Bool, at now: ContinuousClock.Instant) {
        outbox.linkUp(sessionPresent: sessionPresent, at: now)
        let post = state.withLock { state -> Bool in
            guard state.armed, state.connectedAt == nil else { return false }
            state.connectedAt = now
            return true
        }
        if post { outbox.post(QueuedPublish(topic: BenchMessages.liveTopic, payload: BenchMessages.livePayload(wallMilliseconds: Timestamp.nowMilliseconds()), retain: false)) }
    }

    func linkDown(_ error: MQTTError, retryAt: ContinuousClock.Instant, at now: ContinuousClock.Instant) {
        outbox.linkDown(error, retryAt: retryAt, at: now)
    }

    func nextMessages(limit: Int, at now: ContinuousClock.Instant) -> (messages: [OutboundMessage], askAgainAt: ContinuousClock.Instant?) {
        outbox.nextMessages(limit: limit, at: now)
    }

    func acknowledged(_ token: UInt64, at now: ContinuousClock.Instant) { outbox.acknowledged(token, at: now) }
    func received(_ publish: Publish) { outbox.received(publish) }
    func subscriptionRefused(_ filter: String) { outbox.subscriptionRefused(filter) }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

/// CPU seconds of U and of the peer between `begin()` and `end()`, as % of one core, and the TCP
/// segments the machine sent meanwhile (/proc/net/snmp OutSegs).
final class DrainCPU {
    private let upstream: pid_t?
    /// nil: this process's mqtt-upstream thread.
    private let peer: pid_t?
    private var start: (at: ContinuousClock.Instant, upstream: Double, peer: Double, segments: Double)?

    init(upstream: pid_t?, peer: pid_t?) {
        self.upstream = upstream
        self.peer = peer
    }

    private func sample() -> (upstream: Double, peer: Double, segments: Double) {
        (upstream.map(cpuSeconds) ?? 0, peer.map(cpuSeconds) ?? threadCPUSeconds(named: "mqtt-upstream"), tcpSegmentsSent())
    }

    func begin() {
        let now = sample()
        start = (.now, now.upstream, now.peer, now.segments)
    }

    func end(messages: Int) -> (upstream: Double, peer: Double, segmentsPerMessage: Double) {
        guard let start else { return (0, 0, 0) }
        let now = sample()
        let elapsed = seconds(start.at.duration(to: .now))
        guard elapsed > 0 else { return (0, 0, 0) }
        return ((now.upstream - start.upstream) / elapsed * 100, (now.peer - start.peer) / elapsed * 100,
                (now.segments - start.segments) / Double(max(1, messages)))
    }
}

/// Tcp OutSegs of /proc/net/snmp: segments sent by the machine (its network namespace) so far.
func tcpSegmentsSent() -> Double {
    let lines = ((try? String(contentsOfFile: "/proc/net/snmp", encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("Tcp:") }
    guard lines.count >= 2 else { return 0 }
    let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
    guard let index = names.firstIndex(of: "OutSegs"), index < values.count else { return 0 }
    return Double(values[index]) ?? 0
}
