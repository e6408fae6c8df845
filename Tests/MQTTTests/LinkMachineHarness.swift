import MQTT
import MQTTClient
import TestSupport

/// A source that hands out its messages in order and, after a link went down, offers again what
/// was handed out and not acknowledged (as the outbox does). Test thread only.
final class ScriptedSource: UpstreamLinkSource, @unchecked Sendable {
    var pending: [OutboundMessage]
    var handedOut: [OutboundMessage] = []
    var acknowledgedTokens: [UInt64] = []
    var limitsAsked: [Int] = []
    var ups: [Bool] = []
    var downs: [(error: MQTTError, retryAt: ContinuousClock.Instant, at: ContinuousClock.Instant)] = []
    var receivedMessages: [Publish] = []
    var refusedFilters: [String] = []

    init(_ messages: [OutboundMessage] = []) { pending = messages }

    func linkUp(sessionPresent: Bool, at now: ContinuousClock.Instant) { ups.append(sessionPresent) }

    func linkDown(_ error: MQTTError, retryAt: ContinuousClock.Instant, at now: ContinuousClock.Instant) {
        downs.append((error, retryAt, now))
        pending = handedOut + pending
        handedOut = []
    }

    func nextMessages(limit: Int, at now: ContinuousClock.Instant) -> (messages: [OutboundMessage], askAgainAt: ContinuousClock.Instant?) {
        limitsAsked.append(limit)
        let batch = Array(pending.prefix(limit))
        pending.removeFirst(batch.count)
        handedOut += batch
        return (batch, nil)
    }

    func acknowledged(_ token: UInt64, at now: ContinuousClock.Instant) {
        acknowledgedTokens.append(token)
        handedOut.removeAll { $0.token == token }
    }

    func received(_ publish: Publish) { receivedMessages.append(publish) }

    func subscriptionRefused(_ filter: String) { refusedFilters.append(filter) }
}

/// Messages token 1...count on `topic/<token>`.
func outbound(_ count: Int, from first: UInt64 = 1) -> [OutboundMessage] {
    (first..<first + UInt64(count)).map { OutboundMessage(token: $0, topic: "plant/oven/events", payload: Array("m\($0)".utf8)) }
}

/// A link machine driven as the loop drives it, with a scripted server: what the machine writes
/// is decoded into packets, its socket and source actions are recorded.
struct LinkHarness {
    typealias Machine = UpstreamLinkMachine<ContinuousClock>
    typealias Action = Machine.Action

    var machine: Machine
    let source: ScriptedSource
    private var framer = MQTTFramer()
    /// Packets the machine wrote and the test has not taken.
    var written: [MQTTPacket] = []
    var resolves: [String] = []
    var connects: [String] = []
    var tlsStarts: [String] = []
    var closes: [Bool] = []
    var tick: ContinuousClock.Instant?
    var logs: [UpstreamLogEntry] = []

    init(_ configuration: UpstreamLinkConfiguration, source: ScriptedSource, seed: UInt64 = 7) {
        machine = Machine(configuration: configuration, random: SeededRandom(seed: seed))
        self.source = source
    }

    /// Carries out the actions as the loop does, a pull answered by the source at once.
    mutating func run(_ actions: [Action], at now: ContinuousClock.Instant) {
        var queue = actions
        while !queue.isEmpty {
            let action = queue.removeFirst()
            switch action {
            case let .resolve(host): resolves.append(host)
            case let .connect(address, _): connects.append(address)
            case let .startTLS(name): tlsStarts.append(name)
            case let .write(bytes):
                framer.append(bytes)
                while let packet = try? framer.next() { written.append(packet) }
            case let .closeTransport(flushing): closes.append(flushing)
            case let .scheduleTick(at): tick = at
            case let .linkUp(sessionPresent): source.linkUp(sessionPresent: sessionPresent, at: now)
            case let .linkDown(error, retryAt): source.linkDown(error, retryAt: retryAt, at: now)
            case let .pullMessages(limit):
                let offer = source.nextMessages(limit: limit, at: now)
                queue += machine.offered(offer.messages, askAgainAt: offer.askAgainAt, at: now)
            case let .acknowledged(token): source.acknowledged(token, at: now)
            case let .received(publish): source.received(publish)
            case let .subscriptionRefused(filter): source.subscriptionRefused(filter)
            case let .log(entry): logs.append(entry)
            }
        }
    }

    mutating func takeWritten() -> [MQTTPacket] {
        defer { written = [] }
        return written
    }

    /// Server bytes into the machine.
    mutating func serverSends(_ packets: [MQTTPacket], at now: ContinuousClock.Instant) throws {
        var bytes: [UInt8] = []
        for packet in packets { bytes += try packet.encoded() }
        run(machine.received(bytes, at: now), at: now)
    }

    /// From start (or waiting, ticked at its retry) to a TCP connection on 127.0.0.1.
    mutating func reachTransport(at now: ContinuousClock.Instant, first: Bool) {
        run(first ? machine.start(at: now) : machine.tick(at: now), at: now)
        run(machine.resolved(["127.0.0.1"], at: now), at: now)
        run(machine.transportConnected(at: now), at: now)
    }
}

/// SplitMix64 behind a Sendable struct: the machine's injected random source.
struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
