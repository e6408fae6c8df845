import Broker
import Glibc
import MQTT
import TestSupport
import Testing

/// Packets to start from: one of each kind a client sends, valid.
private let seeds: [MQTTPacket] = [
    .connect(Connect(clientIdentifier: "fuzz", cleanSession: false, keepAlive: 5, will: Will(topic: "w/t", payload: [1], qos: .atLeastOnce, retain: true),
                     username: "user", password: [1, 2, 3])),
    .publish(Publish(topic: "a/b", payload: [1, 2, 3], qos: .atMostOnce)),
    .publish(Publish(topic: "a/c", payload: Array(repeating: 7, count: 300), qos: .atLeastOnce, retain: true, packetIdentifier: 9)),
    .publish(Publish(topic: "$x/y", payload: [], qos: .exactlyOnce, packetIdentifier: 10)),
    .publishAcknowledgement(packetIdentifier: 1), .publishReceived(packetIdentifier: 2),
    .publishRelease(packetIdentifier: 3), .publishComplete(packetIdentifier: 4),
    .subscribe(Subscribe(packetIdentifier: 5, subscriptions: [Subscription(filter: "a/+", qos: .exactlyOnce), Subscription(filter: "#", qos: .atLeastOnce)])),
    .unsubscribe(Unsubscribe(packetIdentifier: 6, filters: ["a/+", "#"])),
    .pingRequest, .disconnect,
]

/// A random change to valid bytes: flipped bits, a changed byte, cut short, bytes inserted,
/// the remaining length rewritten, or two packets glued.
private func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
    var result = bytes
    switch random.next() % 6 {
    case 0:
        for _ in 0..<(1 + random.next() % 3) {
            let index = Int(random.next() % UInt64(result.count))
            result[index] ^= UInt8(1 << (random.next() % 8))
        }
    case 1:
        result[Int(random.next() % UInt64(result.count))] = UInt8(truncatingIfNeeded: random.next())
    case 2:
        result = Array(result.prefix(Int(random.next() % UInt64(result.count))))
    case 3:
        let index = Int(random.next() % UInt64(result.count + 1))
        result.insert(contentsOf: (0..<(1 + random.next() % 8)).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: index)
    case 4 where result.count > 1:
        result[1] = UInt8(truncatingIfNeeded: random.next())
    default:
        result += result
    }
    return result
}

@Suite("Broker: random and malformed input over sockets")
struct MalformedInputTests {
    /// Descriptors of this process that are the broker's end of a TCP connection on `port`
    /// (other tests run in parallel, so a plain descriptor count would not do).
    private static func brokerSockets(port: UInt16) -> Int {
        var inodes: Set<String> = []
        guard let table = fopen("/proc/net/tcp", "r") else { return -1 }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, table) > 0, let line {
            let fields = String(cString: line).split(separator: " ")
            // local address "0100007F:1F90", state "0A" is LISTEN, inode is the 10th field.
            guard fields.count > 9, let colon = fields[1].lastIndex(of: ":"),
                  UInt16(fields[1][fields[1].index(after: colon)...], radix: 16) == port, fields[3] != "0A" else { continue }
            inodes.insert(String(fields[9]))
        }
        free(line)
        fclose(table)
        guard let names = directoryEntries("/proc/self/fd") else { return -1 }
        var count = 0
        var target = [CChar](repeating: 0, count: 64)
        for name in names {
            let length = readlink("/proc/self/fd/" + name, &target, target.count - 1)
            guard length > 0 else { continue }
            let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link.hasPrefix("socket:["), inodes.contains(String(link.dropFirst(8).dropLast())) { count += 1 }
        }
        return count
    }

    @Test("Thousands of random and mutated packets: the broker keeps serving the healthy clients, and every connection it accepted is closed in the end")
    func fuzz() async throws {
        let broker = try startBroker { $0.connectTimeout = .seconds(2) }
        defer { broker.stop() }
        let subscriber = try await connect(broker.port, "healthy-sub")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([Subscription(filter: "healthy/#", qos: .atLeastOnce)])
        let publisher = try await connect(broker.port, "healthy-pub")
        #expect(Self.brokerSockets(port: broker.port) == 2)

        let seed: UInt64 = 0x6D6F_6462_7269_6467
        var random = SplitMix64(seed: seed)
        let encodedSeeds = try seeds.map { try $0.encoded() }
        let connectBytes = encodedSeeds[0]
        var packetsSent = 0
        for round in 0..<300 {
            let client = try RawMQTTClient(port: broker.port)
            // Most rounds start with a valid CONNECT so the mutated packets reach the connected state.
            var stream: [UInt8] = random.next() % 10 < 7 ? connectBytes : mutate(connectBytes, &random)
            for _ in 0..<10 {
                switch random.next() % 4 {
                case 0:
                    stream += (0..<(1 + random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                case 1:
                    stream += encodedSeeds[Int(random.next() % UInt64(encodedSeeds.count))]
                default:
                    stream += mutate(encodedSeeds[Int(random.next() % UInt64(encodedSeeds.count))], &random)
                }
                packetsSent += 1
            }
            // Written in random chunks; a broker that already closed the socket makes writes fail.
            var offset = 0
            while offset < stream.count {
                let size = min(stream.count - offset, 1 + Int(random.next() % 40))
                guard (try? client.send(bytes: Array(stream[offset..<offset + size]))) != nil else { break }
                offset += size
            }
            // Half the rounds hang up at once; the others wait a moment for the broker to answer or
            // close (the socket is closed when `client` goes at the end of the round).
            if round % 2 == 1 { _ = client.waitUntilClosed(timeout: .milliseconds(20)) }
            if round % 50 == 49 {
                try await publisher.publish(topic: "healthy/\(round)", payload: [UInt8(round / 50)], qos: .atLeastOnce)
            }
        }
        let markers = await inbox.wait(for: 6).filter { $0.topic.hasPrefix("healthy/") && $0.topic.count > 8 && $0.payload.count == 1 }
        #expect(markers.map(\.topic).suffix(6) == ["healthy/49", "healthy/99", "healthy/149", "healthy/199", "healthy/249", "healthy/299"],
                "seed \(seed)")
        #expect(packetsSent == 3000)
        #expect(broker.statistics.protocolErrors > 100, "the input should mostly break the rules")
        // Every fuzzing client has hung up: the broker holds the two healthy connections only,
        // and only their two sockets are open on its side (no descriptor leaked).
        #expect(await eventually({ broker.statistics.connections == 2 }, attempts: 1000))
        #expect(await eventually { Self.brokerSockets(port: broker.port) == 2 })
        try await publisher.publish(topic: "healthy/end", payload: [9], qos: .atLeastOnce)
        #expect(await inbox.wait(for: markers.count + 1).last?.topic == "healthy/end")
        await subscriber.disconnect()
        await publisher.disconnect()
    }

    /// The streams of the oracle probe, per pass.
    private static let streamsPerPass = 5000
    private static let batchSize = 100
    /// How much the broker's resident memory may grow over the second pass (measured: ~130 KiB
    /// of ~15 MiB): the persistent sessions of the six client ids may still gain queued messages
    /// (each queue is bounded) and malloc keeps freed pages in its arenas; a leak of 200 bytes
    /// per stream (1 MiB over 5000 streams) fails it.
    private static let residentGrowthAllowance = 1024  // KiB

    @Test("Seeded malformed streams against modbridge broker: alive after every batch, only answers the specification allows, every owed answer before the close, a healthy client served; no memory growth on a second pass")
    func oracleStreams() async throws {
        let seed: UInt64 = 0x1313_5EED_0000_0001
        let report = await onDedicatedThread("oracle-probe") { () -> [String] in
            let broker: ModbridgeBrokerProcess
            do { broker = try ModbridgeBrokerProcess() } catch { return ["cannot start modbridge broker: \(error)"] }
            defer { broker.stop() }
            var problems: [String] = []
            var resident: [Int] = []
            for pass in 1...2 {
                var streams = MalformedStreams(seed: seed)
                for index in 0..<Self.streamsPerPass {
                    let stream = streams.next()
                    let problem: String?
                    do {
                        problem = AnswerOracle(stream: stream).violation(in: try exchange(port: broker.port, stream, halfClose: true))
                    } catch {
                        problem = "cannot exchange: \(error)"
                    }
                    if let problem, problems.count < 10 {
                        let hex = stream.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                        problems.append("seed \(seed) pass \(pass) stream \(index) [\(hex)]: \(problem)")
                    }
                    if index % Self.batchSize == Self.batchSize - 1 {
                        guard broker.isRunning else { return problems + ["the broker died in pass \(pass) by stream \(index) (seed \(seed))"] }
                        if let healthy = Self.healthyClientProblem(port: broker.port) {
                            problems.append("pass \(pass) after stream \(index): \(healthy)")
                        }
                    }
                }
                resident.append(broker.residentKilobytes ?? -1)
            }
            if resident.contains(where: { $0 <= 0 }) {
                problems.append("VmRSS of the broker not readable: \(resident)")
            } else if resident[1] - resident[0] > Self.residentGrowthAllowance {
                problems.append("VmRSS grew from \(resident[0]) KiB to \(resident[1]) KiB over the second pass of the same streams")
            }
            return problems
        }
        #expect(report.isEmpty, "\(report.joined(separator: "\n"))")
    }

    /// A well-behaved client's round: CONNECT, PINGREQ, QoS 1 PUBLISH, answered within a liveness
    /// bound (a hang detector, not a speed test); nil when it was served.
    private static func healthyClientProblem(port: UInt16) -> String? {
        do {
            let client = try RawMQTTClient(port: port)
            defer { client.close() }
            let acknowledgement = try client.connect(Connect(clientIdentifier: "healthy", cleanSession: true))
            guard acknowledgement.returnCode == .accepted else { return "healthy client refused: \(acknowledgement)" }
            try client.send(.pingRequest)
            guard try client.next(timeout: .seconds(5)) == .pingResponse else { return "healthy client: no PINGRESP" }
            try client.send(.publish(Publish(topic: "healthy", payload: [1], qos: .atLeastOnce, packetIdentifier: 1)))
            guard try client.next(timeout: .seconds(5)) == .publishAcknowledgement(packetIdentifier: 1) else { return "healthy client: no PUBACK" }
            try client.send(.disconnect)
            return nil
        } catch {
            return "healthy client not served: \(error)"
        }
    }
}
