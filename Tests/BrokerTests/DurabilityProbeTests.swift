import Glibc
import MQTT
import POSIX
import TestSupport
import Testing

/// What the subscriber thread shares with the probe: where the broker is, what arrived.
private struct SubscriberState {
    var port: UInt16
    var stop = false
    /// Sequence numbers in the order they arrived, duplicates included.
    var received: [UInt32] = []
    /// Reconnections that found no session (a persistent session lost across a restart).
    var sessionsLost = 0
}

/// The outcome of the probe, for the test's expectations.
private struct DurabilityReport: Sendable {
    var problems: [String] = []
    var acknowledged: [UInt32] = []
    var received: [UInt32] = []
    var kills = 0
}

@Suite("Broker probe: kill -9 during QoS 1 streams to a persistent session")
struct DurabilityProbeTests {
    private static let seed: UInt64 = 0xD00A_B1E5_0000_0013
    private static let rounds = 10
    private static let window = 10  // QoS 1 PUBLISH packets the publisher keeps unacknowledged
    private static let topic = "seq/stream"

    @Test("Every message PUBACKed to the publisher reaches the persistent subscriber across kill -9 restarts, in order (redelivered duplicates allowed)")
    func killDuringStreams() async throws {
        let folder = TemporaryFolder()
        let storage = folder.path
        let report = await onDedicatedThread("durability") { Self.run(storage: storage) }
        #expect(report.problems.isEmpty, "seed \(Self.seed): \(report.problems.joined(separator: "; "))")
        #expect(report.kills == Self.rounds)
        #expect(report.acknowledged.count > Self.rounds * 100, "the rounds should acknowledge a few hundred messages each")
        let received = Set(report.received)
        let lost = report.acknowledged.filter { !received.contains($0) }
        #expect(lost.isEmpty, "seed \(Self.seed): \(lost.count) of \(report.acknowledged.count) acknowledged messages lost, first \(lost.prefix(10))")
        // Order: each number's first arrival comes after every smaller number's first arrival;
        // a redelivery (DUP, after a restart) may repeat numbers already seen.
        var highest: UInt32 = 0
        var seen: Set<UInt32> = []
        var outOfOrder: [UInt32] = []
        for number in report.received where seen.insert(number).inserted {
            if number < highest { outOfOrder.append(number) }
            highest = max(highest, number)
        }
        #expect(outOfOrder.isEmpty, "seed \(Self.seed): first arrivals out of order: \(outOfOrder.prefix(10))")
    }

    /// Starts the broker on `storage`, subscribes, then runs the rounds: a QoS 1 stream, a
    /// `kill -9` after a seeded number of PUBACKs (with a window in flight), a restart.
    private static func run(storage: String) -> DurabilityReport {
        var report = DurabilityReport()
        var random = SplitMix64(seed: seed)
        let arguments = ["--storage", storage, "--max-queued", "30000"]
        var broker: ModbridgeBrokerProcess
        do {
            broker = try ModbridgeBrokerProcess(arguments)
            let setup = try RawMQTTClient(port: broker.port)
            _ = try setup.connect(Connect(clientIdentifier: "durable-sub", cleanSession: false))
            guard try setup.subscribe([Subscription(filter: topic, qos: .atLeastOnce)]) == [.granted(.atLeastOnce)] else {
                return DurabilityReport(problems: ["SUBSCRIBE not granted at QoS 1"])
            }
            setup.close()
        } catch {
            return DurabilityReport(problems: ["setup: \(error)"])
        }
        let state = ConditionLock(SubscriberState(port: broker.port))
        let subscriber: DedicatedThread
        do {
            subscriber = try DedicatedThread(name: "durable-sub") { subscribe(state) }
        } catch {
            broker.stop()
            return DurabilityReport(problems: ["subscriber thread: \(error)"])
        }

        var next: UInt32 = 1
        for round in 0...rounds {
            // The last round has no kill: it publishes a few more, then the subscriber drains.
            let killAfter = round == rounds ? 50 : 100 + Int(random.next() % 500)
            let (acknowledged, sent, problem) = publish(port: broker.port, from: next, acknowledgements: killAfter)
            report.acknowledged += acknowledged
            next = sent
            if let problem { report.problems.append("round \(round): \(problem)") }
            guard round < rounds else { break }
            broker.kill()
            report.kills += 1
            do {
                broker = try ModbridgeBrokerProcess(arguments, port: broker.port)
            } catch {
                report.problems.append("restart \(round + 1): \(error)")
                break
            }
        }
        // Every acknowledged number, then the subscriber stops (liveness bound: 30 s).
        let expected = Set(report.acknowledged)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while ContinuousClock.now < deadline, !state.withLock({ expected.isSubset(of: $0.received) }) {
            sleepThread(.milliseconds(20))
        }
        state.withLock { $0.stop = true }
        subscriber.join()
        broker.stop()
        state.withLock { subscriberState in
            report.received = subscriberState.received
            if subscriberState.sessionsLost > 0 { report.problems.append("\(subscriberState.sessionsLost) reconnections found no session") }
        }
        return report
    }

    /// A clean-session publisher sends QoS 1 PUBLISH packets numbered from `first`, keeping
    /// `window` unacknowledged, until `acknowledgements` PUBACKs came back. Returns the numbers
    /// acknowledged and the next number to use; the window is left in flight for the kill.
    private static func publish(port: UInt16, from first: UInt32, acknowledgements: Int) -> ([UInt32], UInt32, String?) {
        var acknowledged: [UInt32] = []
        var next = first
        do {
            let client = try RawMQTTClient(port: port)
            defer { client.close() }
            guard try client.connect(Connect(clientIdentifier: "durable-pub", cleanSession: true)).returnCode == .accepted else {
                return ([], next, "publisher refused")
            }
            var inFlight: [UInt16: UInt32] = [:]
            while acknowledged.count < acknowledgements {
                while inFlight.count < window {
                    inFlight[try send(next, client)] = next
                    next += 1
                }
                guard case let .publishAcknowledgement(identifier) = try client.next(timeout: .seconds(10)),
                      let number = inFlight.removeValue(forKey: identifier) else {
                    return (acknowledged, next, "the answer to a PUBLISH is not its PUBACK")
                }
                acknowledged.append(number)
            }
            // A window of PUBLISH packets is written and unacknowledged: the kill comes now.
            for _ in 0..<window {
                _ = try send(next, client)
                next += 1
            }
            return (acknowledged, next, nil)
        } catch {
            return (acknowledged, next, "publisher: \(error)")
        }
    }

    /// PUBLISH QoS 1 of message `number` (its first 4 payload bytes, big-endian); returns the
    /// packet identifier used.
    private static func send(_ number: UInt32, _ client: RawMQTTClient) throws -> UInt16 {
        let identifier = UInt16(number % 60_000) + 1
        let payload = withUnsafeBytes(of: number.bigEndian) { Array($0) } + [UInt8](repeating: 0x2E, count: 28)
        try client.send(.publish(Publish(topic: topic, payload: payload, qos: .atLeastOnce, packetIdentifier: identifier)))
        return identifier
    }

    /// The persistent subscriber: reconnects (clean session 0, same id) whenever the broker goes,
    /// acknowledges every PUBLISH, and notes its number, until told to stop.
    private static func subscribe(_ state: ConditionLock<SubscriberState>) {
        while !state.withLock({ $0.stop }) {
            guard let client = try? RawMQTTClient(port: state.withLock({ $0.port })),
                  let acknowledgement = try? client.connect(Connect(clientIdentifier: "durable-sub", cleanSession: false)),
                  acknowledgement.returnCode == .accepted else {
                sleepThread(.milliseconds(10))
                continue
            }
            if !acknowledgement.sessionPresent { state.withLock { $0.sessionsLost += 1 } }
            while !state.withLock({ $0.stop }) {
                do {
                    let publish = try client.nextPublish(timeout: .milliseconds(200))
                    let number = publish.payload.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                    state.withLock { $0.received.append(number) }
                    try client.send(.publishAcknowledgement(packetIdentifier: publish.packetIdentifier ?? 0))
                } catch RawClientError.timedOut {
                    continue
                } catch {
                    break  // the broker went: connect to the next one
                }
            }
            client.close()
        }
    }
}
