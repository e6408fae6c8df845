import Broker
import MQTT
import POSIX
import Synchronization
import TestSupport
import Testing

/// A gate a test opens: verification closures wait on it, on the broker's login thread.
final class Gate: Sendable {
    private let state = ConditionLock(false)
    private let waiting = Mutex(0)

    func wait() {
        waiting.withLock { $0 += 1 }
        _ = state.wait(until: ContinuousClock.now.advanced(by: .seconds(30))) { $0 ? true : nil }
    }

    func open() { state.withLockAndSignal { $0 = true } }

    /// Closures that have reached the gate (entered `wait`).
    var arrivals: Int { waiting.withLock { $0 } }
}

/// Users named "slow-…" are checked by a closure that waits for the gate (a slow password hash);
/// everyone else is accepted at once. Topics under "perm/" are permanent; "both/x" subscribes to
/// "real/x" under the alias "alias/"; "pair" stands for "a/1" and "a/2"; users named "paced"
/// must wait after each publish.
final class HookPolicy: BrokerPolicy {
    let gate: Gate
    let monitoring = Mutex<[String]>([])

    init(gate: Gate = Gate()) {
        self.gate = gate
    }

    func authenticate(_ request: ConnectRequest) -> AuthenticationStep {
        let identity = ClientIdentity(clientID: request.clientID, username: request.username, remoteAddress: request.remoteAddress)
        let rules = HookRules(paced: request.username == "paced")
        guard let username = request.username, username.hasPrefix("slow-") else { return .decided(.accepted(identity, rules)) }
        let gate = gate
        return .verify {
            gate.wait()
            if username.hasSuffix("-bad") { return .refused(.badUsernameOrPassword, Refusal(entity: username, reason: "bad password")) }
            return .accepted(identity, rules)
        }
    }

    func isPermanent(_ topic: String) -> Bool { topic.hasPrefix("perm/") }

    func record(_ activity: ClientActivity, now: ContinuousClock.Instant) {
        if case let .connected(identity) = activity { monitoring.withLock { $0.append(identity.clientID) } }
    }

    func dueMessages(now: ContinuousClock.Instant) -> [PolicyMessage] {
        monitoring.withLock { pending in
            defer { pending.removeAll() }
            return pending.map { PolicyMessage(topic: "$monitoring/\($0)/json", payload: Array("{\"device_id\":\"\($0)\"}".utf8)) }
        }
    }
}

final class HookRules: SessionPolicy {
    let paced: Bool

    init(paced: Bool) { self.paced = paced }

    func publish(to topic: String) -> PublishDecision { .allowed(topic: topic) }

    func subscribe(to filter: String) -> [FilterRewrite] {
        switch filter {
        case "pair": [FilterRewrite(filter: "a/1"), FilterRewrite(filter: "a/2")]
        case "alias/x": [FilterRewrite(filter: "real/x", presentedPrefix: PresentedPrefix(canonical: "real/", presented: "alias/"))]
        default: [FilterRewrite(filter: filter)]
        }
    }

    func pauseAfterPublish(now: ContinuousClock.Instant) -> Duration { paced ? .milliseconds(100) : .zero }
}

@Suite("Broker: policy hooks for the registry (slow logins off the reactor, narrowed and renamed subscriptions, permanent topics, monitoring, pacing)")
struct PolicyHookTests {
    @Test("While 50 logins wait for their slow check, a connected client is served; each waiting client's pipelined SUBSCRIBE is answered only after its CONNACK")
    func slowLoginsDoNotStallTheReactor() throws {
        let gate = Gate()
        let broker = try startBroker(policy: HookPolicy(gate: gate))
        defer { broker.stop() }
        let connected = try rawClient(broker, "connected")
        _ = try connected.subscribe([Subscription(filter: "t", qos: .atLeastOnce)])

        var waiting: [RawMQTTClient] = []
        for index in 0..<50 {
            let client = try RawMQTTClient(port: broker.port)
            try client.send(.connect(Connect(clientIdentifier: "w\(index)", username: index == 0 ? "slow-bad" : "slow-\(index)", password: [1])))
            try client.send(.subscribe(Subscribe(packetIdentifier: 7, subscriptions: [Subscription(filter: "t", qos: .atMostOnce)])))
            waiting.append(client)
        }
        // The first check is stuck at the gate: the reactor still answers the connected client.
        while gate.arrivals == 0 { sleepThread(.milliseconds(5)) }
        for round in 0..<20 {
            try connected.send(.publish(Publish(topic: "t", payload: [UInt8(round)], qos: .atLeastOnce, packetIdentifier: UInt16(round + 1))))
            var sawAck = false, sawMessage = false
            while !(sawAck && sawMessage) {
                switch try connected.next() {
                case .publishAcknowledgement(UInt16(round + 1)): sawAck = true
                case let .publish(message) where message.payload == [UInt8(round)]:
                    sawMessage = true
                    try connected.send(.publishAcknowledgement(packetIdentifier: message.packetIdentifier ?? 0))
                default: break
                }
            }
        }
        try connected.send(.pingRequest)
        #expect(try connected.next() == .pingResponse)
        #expect(gate.arrivals == 1)  // one check at a time, on the login thread
        #expect(waiting[1].staysQuiet(for: .milliseconds(200)))

        gate.open()
        #expect(try waiting[0].next() == .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .badUsernameOrPassword)))
        #expect(waiting[0].waitUntilClosed())
        for client in waiting.dropFirst() {
            #expect(try client.next() == .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .accepted)))
            #expect(try client.next() == .subscribeAcknowledgement(SubscribeAcknowledgement(packetIdentifier: 7, returnCodes: [.granted(.atMostOnce)])))
        }
        #expect(broker.statistics.loginsRefused == 1)
    }

    @Test("A client that hangs up while its login is checked is gone when the answer comes; the broker goes on")
    func hangUpDuringTheCheck() throws {
        let gate = Gate()
        let broker = try startBroker(policy: HookPolicy(gate: gate))
        defer { broker.stop() }
        let leaving = try RawMQTTClient(port: broker.port)
        try leaving.send(.connect(Connect(clientIdentifier: "leaving", username: "slow-1", password: [1])))
        while gate.arrivals == 0 { sleepThread(.milliseconds(5)) }
        leaving.close()
        let stays = try rawClient(broker, "stays")
        gate.open()
        _ = try stays.subscribe([Subscription(filter: "t", qos: .atMostOnce)])
        let later = try rawClient(broker, "later", username: "slow-2", password: [1])
        try later.send(.publish(Publish(topic: "t", payload: [9])))
        #expect(try stays.nextPublish().payload == [9])
    }

    @Test("One filter may stand for several (granted once, all removed by one UNSUBSCRIBE); a client subscribed directly and through an alias gets each message under each name")
    func narrowedAndPresentedSubscriptions() throws {
        let broker = try startBroker(policy: HookPolicy())
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "subscriber")
        #expect(try subscriber.subscribe([Subscription(filter: "pair", qos: .atMostOnce)]) == [.granted(.atMostOnce)])
        #expect(try subscriber.subscribe([Subscription(filter: "real/x", qos: .atMostOnce), Subscription(filter: "alias/x", qos: .atMostOnce)], identifier: 2)
                == [.granted(.atMostOnce), .granted(.atMostOnce)])
        let publisher = try rawClient(broker, "publisher")
        for topic in ["a/1", "a/2", "real/x"] {
            try publisher.send(.publish(Publish(topic: topic, payload: [1])))
        }
        var topics: [String] = []
        for _ in 0..<4 { topics.append(try subscriber.nextPublish().topic) }
        #expect(topics.sorted() == ["a/1", "a/2", "alias/x", "real/x"])

        try subscriber.send(.unsubscribe(Unsubscribe(packetIdentifier: 3, filters: ["pair", "alias/x"])))
        #expect(try subscriber.next() == .unsubscribeAcknowledgement(packetIdentifier: 3))
        for topic in ["a/1", "a/2", "real/x"] {
            try publisher.send(.publish(Publish(topic: topic, payload: [2])))
        }
        #expect(try subscriber.nextPublish().topic == "real/x")
        #expect(subscriber.staysQuiet(for: .milliseconds(200)))
    }

    @Test("A permanent topic's last message (sent without retain) goes to an exact subscription with the retain bit, never through a wildcard, and comes back after a restart")
    func permanentTopics() throws {
        let folder = TemporaryFolder()
        do {
            let broker = try startBroker({ $0.storageDirectory = folder.path }, policy: HookPolicy())
            defer { broker.stop() }
            let publisher = try rawClient(broker, "publisher")
            try publisher.send(.publish(Publish(topic: "perm/state", payload: Array("old"), qos: .atLeastOnce, packetIdentifier: 1)))
            #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 1))
            try publisher.send(.publish(Publish(topic: "perm/state", payload: Array("new"), qos: .atLeastOnce, packetIdentifier: 2)))
            #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 2))
            try publisher.send(.publish(Publish(topic: "plain/state", payload: Array("gone"), qos: .atLeastOnce, packetIdentifier: 3)))
            #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 3))
        }
        let broker = try startBroker({ $0.storageDirectory = folder.path }, policy: HookPolicy())
        defer { broker.stop() }
        let wildcard = try rawClient(broker, "wildcard")
        _ = try wildcard.subscribe([Subscription(filter: "perm/#", qos: .atLeastOnce), Subscription(filter: "+/state", qos: .atLeastOnce)])
        #expect(wildcard.staysQuiet(for: .milliseconds(200)))
        let exact = try rawClient(broker, "exact")
        _ = try exact.subscribe([Subscription(filter: "perm/state", qos: .atMostOnce), Subscription(filter: "plain/state", qos: .atMostOnce)])
        let replayed = try exact.nextPublish()
        #expect(replayed.topic == "perm/state" && replayed.payload == Array("new") && replayed.retain && replayed.qos == .atMostOnce)
        #expect(exact.staysQuiet(for: .milliseconds(200)))
    }

    @Test("Messages the policy says are due (monitoring) are published by the broker, also to in-process clients")
    func policyMessages() async throws {
        let broker = try startBroker(policy: HookPolicy())
        defer { broker.stop() }
        let watcher = try rawClient(broker, "watcher")
        _ = try watcher.subscribe([Subscription(filter: "$monitoring/+/json", qos: .atMostOnce)])
        _ = try rawClient(broker, "device-1")
        let message = try watcher.nextPublish()
        #expect(message.topic == "$monitoring/device-1/json" && message.payload == Array("{\"device_id\":\"device-1\"}") && !message.retain)
    }

    @Test("A client the policy paces after each publish loses nothing: every QoS 1 message of a pipelined burst is acknowledged and delivered in order")
    func pacedPublisherLosesNothing() throws {
        let broker = try startBroker(policy: HookPolicy())
        defer { broker.stop() }
        let subscriber = try rawClient(broker, "subscriber")
        _ = try subscriber.subscribe([Subscription(filter: "paced/#", qos: .atMostOnce)])
        let paced = try rawClient(broker, "paced", username: "paced")
        for index in 1...5 {
            try paced.send(.publish(Publish(topic: "paced/\(index)", payload: [UInt8(index)], qos: .atLeastOnce, packetIdentifier: UInt16(index))))
        }
        try paced.send(.pingRequest)
        for index in 1...5 {
            #expect(try paced.next() == .publishAcknowledgement(packetIdentifier: UInt16(index)))
            #expect(try subscriber.nextPublish().topic == "paced/\(index)")
        }
        #expect(try paced.next() == .pingResponse)
    }
}
