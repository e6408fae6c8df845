import Glibc
import MQTT
import POSIX
import TestSupport
import Testing

/// A well-behaved client that stays connected through the abuse and is asked, between steps,
/// to prove it is still served.
private final class HealthyClient {
    let client: RawMQTTClient
    private var nextIdentifier: UInt16 = 1

    init(port: UInt16) throws {
        client = try RawMQTTClient(port: port)
        guard try client.connect(Connect(clientIdentifier: "healthy", keepAlive: 0)).returnCode == .accepted else {
            throw RawClientError.failed("healthy client refused")
        }
    }

    /// PINGREQ and a QoS 1 PUBLISH answered within 5 s each: a hang detector, not a speed test.
    func problem(_ step: String) -> String? {
        do {
            try client.send(.pingRequest)
            guard try client.next(timeout: .seconds(5)) == .pingResponse else { return "\(step): the healthy client got no PINGRESP" }
            let identifier = nextIdentifier
            nextIdentifier = nextIdentifier == 60_000 ? 1 : nextIdentifier + 1
            try client.send(.publish(Publish(topic: "healthy/ping", payload: [1], qos: .atLeastOnce, packetIdentifier: identifier)))
            guard try client.next(timeout: .seconds(5)) == .publishAcknowledgement(packetIdentifier: identifier) else {
                return "\(step): the healthy client got no PUBACK"
            }
            return nil
        } catch {
            return "\(step): the healthy client was not served within 5 s: \(error)"
        }
    }
}

@Suite("Broker probe: connection abuse against modbridge broker")
struct AbuseProbeTests {
    private static let silentConnectionCount = 5000

    @Test("5,000 silent connections, slow CONNECTs, a subscriber that never reads, churn, takeover storms: a healthy client is served throughout and the broker's sockets return to their count")
    func abuse() async throws {
        raiseDescriptorLimit(to: Self.silentConnectionCount + 2048)
        let problems = await onDedicatedThread("abuse-probe") { () -> [String] in
            let broker: ModbridgeBrokerProcess
            let healthy: HealthyClient
            do {
                broker = try ModbridgeBrokerProcess(["--max-pending-bytes", "1048576"])
                healthy = try HealthyClient(port: broker.port)
            } catch {
                return ["cannot start: \(error)"]
            }
            defer { broker.stop() }
            // One round trip more: the turn that answered the CONNECT may still be closing the
            // readiness check's connection (sockets close after that turn's flushes).
            if let problem = healthy.problem("at the start") { return [problem] }
            guard let baseline = broker.openSockets else { return ["cannot count the broker's sockets"] }
            var problems: [String] = []
            let steps: [(String, (ModbridgeBrokerProcess, HealthyClient) -> String?)] = [
                ("silent connections", Self.silentConnections),
                ("slow CONNECTs", Self.slowConnects),
                ("a subscriber that never reads", Self.stuckSubscriber),
                ("connect/disconnect churn", Self.churn),
                ("takeover storm", Self.takeoverStorm),
            ]
            for (name, step) in steps {
                if let problem = step(broker, healthy) { problems.append("\(name): \(problem)") }
                if let problem = healthy.problem("after \(name)") { problems.append(problem) }
                guard broker.isRunning else { return problems + ["the broker died during \(name)"] }
                // Every connection of the step is gone: the sockets are back to their count (sockets, not all
                // descriptors: the runtime may open its own, e.g. Dispatch's, at any time).
                if !Self.waitFor({ broker.openSockets == baseline }) {
                    problems.append("after \(name): \(broker.openSockets ?? -1) sockets open, \(baseline) before")
                }
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    // MARK: - Steps

    /// Connections that never send CONNECT, all open at once; closed by the client side after
    /// the check (the broker's own 10 s deadline is covered by LimitsTests).
    private static func silentConnections(_ broker: ModbridgeBrokerProcess, _ healthy: HealthyClient) -> String? {
        guard let before = broker.openSockets else { return "cannot count sockets" }
        var sockets: [Socket] = []
        defer { sockets.forEach { $0.close() } }
        for index in 0..<Self.silentConnectionCount {
            do {
                let socket = try Socket.connect(host: "127.0.0.1", port: broker.port, timeout: .seconds(10))
                // Above 1024: the suites running beside this one in the same process use
                // libmodbus, whose select(2) aborts the process on a descriptor past 1024 (a full
                // run crashed once with "bit out of range 0 - FD_SETSIZE on fd_set").
                socket.moveAboveSelectRange()
                sockets.append(socket)
            } catch {
                return "connection \(index) failed: \(error)"
            }
            if index % 1000 == 999, let problem = healthy.problem("with \(index + 1) silent connections") { return problem }
        }
        // The broker accepted them all (it holds a descriptor for each).
        guard waitFor({ (broker.openSockets ?? 0) >= before + Self.silentConnectionCount }) else {
            return "the broker holds \(broker.openSockets ?? -1) sockets with \(Self.silentConnectionCount) connections open, \(before) before"
        }
        return healthy.problem("with every silent connection open")
    }

    /// CONNECT packets one byte at a time, 50 clients interleaved: each gets its CONNACK once
    /// its last byte is in.
    private static func slowConnects(_ broker: ModbridgeBrokerProcess, _ healthy: HealthyClient) -> String? {
        do {
            let clients = try (0..<50).map { _ in try RawMQTTClient(port: broker.port) }
            defer { clients.forEach { $0.close() } }
            let packets = try (0..<50).map { try MQTTPacket.connect(Connect(clientIdentifier: "slow-\($0)")).encoded() }
            for offset in 0..<packets.map(\.count).max()! {
                for (client, packet) in zip(clients, packets) where offset < packet.count {
                    try client.send(bytes: [packet[offset]])
                }
                if offset % 8 == 0, let problem = healthy.problem("slow CONNECT byte \(offset)") { return problem }
            }
            for (index, client) in clients.enumerated() {
                guard case let .connectAcknowledgement(acknowledgement) = try client.next(timeout: .seconds(5)),
                      acknowledgement.returnCode == .accepted else { return "slow client \(index): no CONNACK" }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// A subscriber with a small receive buffer that never reads while 8 MiB are published to
    /// it: it is disconnected as a slow consumer (1 MiB cap), the healthy client goes on.
    private static func stuckSubscriber(_ broker: ModbridgeBrokerProcess, _ healthy: HealthyClient) -> String? {
        do {
            let stuck = try RawMQTTClient(port: broker.port)
            defer { stuck.close() }
            stuck.shrinkReceiveBuffer(to: 4096)
            _ = try stuck.connect(Connect(clientIdentifier: "stuck"))
            _ = try stuck.subscribe([Subscription(filter: "flood/#", qos: .atMostOnce)])
            let publisher = try RawMQTTClient(port: broker.port)
            defer { publisher.close() }
            _ = try publisher.connect(Connect(clientIdentifier: "flooder"))
            let payload = [UInt8](repeating: 0x46, count: 4096)
            for index in 0..<2048 {
                try publisher.send(.publish(Publish(topic: "flood/\(index % 8)", payload: payload)))
                if index % 512 == 511, let problem = healthy.problem("flood message \(index + 1)") { return problem }
            }
            // Reset by the broker (what it held for the client is dropped): poll reports the
            // hang-up without a byte being read.
            let hungUp = (try? stuck.socket.wait(for: 0, timeout: .seconds(10))) ?? false
            return hungUp ? nil : "the subscriber that never reads is still connected"
        } catch {
            return "\(error)"
        }
    }

    /// 1,000 connect / CONNECT / CONNACK / DISCONNECT rounds in a row.
    private static func churn(_ broker: ModbridgeBrokerProcess, _ healthy: HealthyClient) -> String? {
        for round in 0..<1000 {
            do {
                let client = try RawMQTTClient(port: broker.port)
                defer { client.close() }
                guard try client.connect(Connect(clientIdentifier: "churn-\(round % 10)", cleanSession: round % 2 == 0)).returnCode == .accepted else {
                    return "round \(round): refused"
                }
                try client.send(.disconnect)
                guard client.waitUntilClosed(timeout: .seconds(5)) else { return "round \(round): not closed after DISCONNECT" }
            } catch {
                return "round \(round): \(error)"
            }
            if round % 250 == 249, let problem = healthy.problem("churn round \(round + 1)") { return problem }
        }
        return nil
    }

    /// Bursts of 50 connections with the same client id, each CONNECT sent before any answer is
    /// read: each takes the session over (3.1.4-2), so every one but the last is closed after its
    /// CONNACK, and the last is served.
    private static func takeoverStorm(_ broker: ModbridgeBrokerProcess, _ healthy: HealthyClient) -> String? {
        for burst in 0..<10 {
            do {
                let clients = try (0..<50).map { _ in try RawMQTTClient(port: broker.port) }
                defer { clients.forEach { $0.close() } }
                for client in clients {
                    try client.send(.connect(Connect(clientIdentifier: "storm", cleanSession: burst % 2 == 0)))
                    // Wait for the CONNACK so the order of the takeovers is the order here.
                    guard case .connectAcknowledgement = try client.next(timeout: .seconds(5)) else { return "burst \(burst): no CONNACK" }
                }
                for (index, client) in clients.dropLast().enumerated() where !client.waitUntilClosed(timeout: .seconds(5)) {
                    return "burst \(burst): connection \(index) not closed after being taken over"
                }
                try clients.last?.send(.pingRequest)
                guard try clients.last?.next(timeout: .seconds(5)) == .pingResponse else { return "burst \(burst): the last connection not served" }
            } catch {
                return "burst \(burst): \(error)"
            }
            if let problem = healthy.problem("takeover burst \(burst)") { return problem }
        }
        return nil
    }

    // MARK: - Helpers

    /// Polls `condition` for up to 10 s (blocking: the probe runs on its own thread).
    private static func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            sleepThread(.milliseconds(10))
        }
        return condition()
    }
}
