import Broker
import MQTT
import POSIX
import Registry
import TestSupport
import Testing

/// The registry policy in the real broker, over sockets (an insecure plain listener: passwords
/// are allowed on it).
@Suite("Registry: the policy in the broker, over MQTT")
struct RegistryBrokerTests {
    static func start(_ policy: RegistryPolicy, storage: String? = nil) throws -> Broker {
        try Broker.start(BrokerConfiguration(listeners: [ListenerConfiguration(host: "127.0.0.1", port: 0, insecure: true)],
                                             storageDirectory: storage), policy: policy)
    }

    /// A raw client logged in as `entity` with its fixture password.
    static func login(_ broker: Broker, _ clientID: String, as entity: String, clean: Bool = true,
                      sessionPresent: Bool = false) throws -> RawMQTTClient {
        let password = entity == "plant-1" ? RegistryFixture.plantPassword : RegistryFixture.ovenPassword
        let client = try RawMQTTClient(port: broker.port)
        let answer = try client.connect(Connect(clientIdentifier: clientID, cleanSession: clean, username: entity, password: Array(password.utf8)))
        guard answer == ConnectAcknowledgement(sessionPresent: sessionPresent, returnCode: .accepted) else {
            throw RawClientError.failed("CONNACK \(answer) for \(entity)")
        }
        return client
    }

    static func publish(_ client: RawMQTTClient, _ topic: String, _ payload: String, id: UInt16) throws {
        try client.send(.publish(Publish(topic: topic, payload: Array(payload.utf8), qos: .atLeastOnce, packetIdentifier: id)))
        guard try client.next() == .publishAcknowledgement(packetIdentifier: id) else { throw RawClientError.failed("no PUBACK \(id)") }
    }

    @Test("A device's events reach its registry, canonical and through an alias; $me and aliases publish to the device topic")
    func eventsReachRegistry() throws {
        let broker = try Self.start(RegistryPolicy(try RegistryFixture().directory))
        defer { broker.stop() }
        let registry = try Self.login(broker, "plant", as: "plant-1")
        #expect(try registry.subscribe([Subscription(filter: "$devices/#", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
        let aliases = try Self.login(broker, "plant-aliases", as: "plant-1")
        #expect(try aliases.subscribe([Subscription(filter: "plant/#", qos: .atMostOnce)]) == [.granted(.atMostOnce)])
        let oven = try Self.login(broker, "oven", as: "oven-1")
        try Self.publish(oven, "$devices/oven-1/events", "1", id: 1)
        try Self.publish(oven, "$me/device/events/zone", "2", id: 2)
        try Self.publish(oven, "plant/oven1/state", "3", id: 3)
        var canonical: [String] = []
        for _ in 1...3 {
            let message = try registry.nextPublish()
            canonical.append("\(message.topic)=\(String(decoding: message.payload, as: UTF8.self))")
        }
        #expect(canonical == ["$devices/oven-1/events=1", "$devices/oven-1/events/zone=2", "$devices/oven-1/state=3"])
        var presented: [String] = []
        for _ in 1...3 { presented.append(try aliases.nextPublish().topic) }
        #expect(presented == ["plant/oven1/events", "plant/oven1/events/zone", "plant/oven1/state"])
    }

    @Test("A denied PUBLISH disconnects the device and reaches no one; a denied filter gets 0x80 while the rest are granted")
    func denials() throws {
        let broker = try Self.start(RegistryPolicy(try RegistryFixture().directory))
        defer { broker.stop() }
        let registry = try Self.login(broker, "plant", as: "plant-1")
        _ = try registry.subscribe([Subscription(filter: "$devices/#", qos: .atMostOnce)])
        let oven = try Self.login(broker, "oven", as: "oven-1")
        #expect(try oven.subscribe([Subscription(filter: "$devices/oven-1/commands", qos: .atLeastOnce),
                                    Subscription(filter: "$devices/oven-2/events", qos: .atLeastOnce),
                                    Subscription(filter: "$devices/+", qos: .atLeastOnce),
                                    Subscription(filter: "$registries/#", qos: .atMostOnce)], identifier: 7)
                == [.granted(.atLeastOnce), .failure, .failure, .granted(.atMostOnce)])
        try Self.publish(registry, "$devices/oven-1/commands", "700", id: 9)
        #expect(try oven.nextPublish().topic == "$devices/oven-1/commands")
        try oven.send(.publish(Publish(topic: "$devices/oven-2/events", payload: [1])))
        #expect(oven.waitUntilClosed())
        #expect(registry.staysQuiet(for: .milliseconds(300)))
        let plainPassword = try RawMQTTClient(port: broker.port)
        #expect(try plainPassword.connect(Connect(clientIdentifier: "x", username: "oven-1", password: Array("Wrong-password-1".utf8))).returnCode
                == .badUsernameOrPassword)
    }

    @Test("A permanent state is replayed (retain set) to an exact subscription after a restart, canonical or through an alias, never through a wildcard")
    func permanentAfterRestart() throws {
        let folder = TemporaryFolder()
        let policy = RegistryPolicy(try RegistryFixture().directory)
        do {
            let broker = try Self.start(policy, storage: folder.path)
            defer { broker.stop() }
            let oven = try Self.login(broker, "oven", as: "oven-1")
            try Self.publish(oven, "$devices/oven-1/state", "42", id: 1)
        }
        let broker = try Self.start(RegistryPolicy(try RegistryFixture().directory), storage: folder.path)
        defer { broker.stop() }
        let exact = try Self.login(broker, "exact", as: "plant-1")
        #expect(try exact.subscribe([Subscription(filter: "$devices/oven-1/state", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
        let replayed = try exact.nextPublish()
        #expect(replayed.topic == "$devices/oven-1/state" && replayed.payload == Array("42".utf8) && replayed.retain)
        let alias = try Self.login(broker, "alias", as: "plant-1")
        _ = try alias.subscribe([Subscription(filter: "plant/oven1/state", qos: .atMostOnce)])
        let presented = try alias.nextPublish()
        #expect(presented.topic == "plant/oven1/state" && presented.payload == Array("42".utf8) && presented.retain)
        let wildcard = try Self.login(broker, "wildcard", as: "plant-1")
        #expect(try wildcard.subscribe([Subscription(filter: "$devices/#", qos: .atLeastOnce),
                                        Subscription(filter: "$devices/oven-1/+", qos: .atLeastOnce)]) == [.granted(.atLeastOnce), .granted(.atLeastOnce)])
        #expect(wildcard.staysQuiet(for: .milliseconds(300)))
    }

    @Test("A persistent session subscribed through an alias gets messages under the alias after a reconnect and after a restart")
    func aliasPersistentSession() throws {
        let folder = TemporaryFolder()
        do {
            let broker = try Self.start(RegistryPolicy(try RegistryFixture().directory), storage: folder.path)
            defer { broker.stop() }
            let watcher = try Self.login(broker, "watcher", as: "plant-1", clean: false)
            #expect(try watcher.subscribe([Subscription(filter: "plant/+/events", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
            watcher.close()
            let oven = try Self.login(broker, "oven", as: "oven-1")
            try Self.publish(oven, "$devices/oven-1/events", "while away", id: 1)
            let back = try Self.login(broker, "watcher", as: "plant-1", clean: false, sessionPresent: true)
            let queued = try back.nextPublish()
            #expect(queued.topic == "plant/oven1/events" && queued.payload == Array("while away".utf8))
            if let identifier = queued.packetIdentifier { try back.send(.publishAcknowledgement(packetIdentifier: identifier)) }
            try Self.publish(oven, "$devices/oven-1/events", "live", id: 2)
            #expect(try back.nextPublish().topic == "plant/oven1/events")
            back.close()
        }
        let broker = try Self.start(RegistryPolicy(try RegistryFixture().directory), storage: folder.path)
        defer { broker.stop() }
        let oven = try Self.login(broker, "oven", as: "oven-1")
        try Self.publish(oven, "$devices/oven-1/events", "after restart", id: 3)
        let watcher = try Self.login(broker, "watcher", as: "plant-1", clean: false, sessionPresent: true)
        var seen: [String] = []
        while let message = try? watcher.nextPublish(timeout: .seconds(2)) {
            seen.append("\(message.topic)=\(String(decoding: message.payload, as: UTF8.self))")
            if let identifier = message.packetIdentifier { try watcher.send(.publishAcknowledgement(packetIdentifier: identifier)) }
            if message.payload == Array("after restart".utf8) { break }
        }
        #expect(seen.last == "plant/oven1/events=after restart")
        #expect(seen.allSatisfy { $0.hasPrefix("plant/oven1/events=") })
    }

    @Test("$monitoring/<id>/json arrives when the device connects, with the fields")
    func monitoringOnConnect() throws {
        let broker = try Self.start(RegistryPolicy(try RegistryFixture().directory))
        defer { broker.stop() }
        let registry = try Self.login(broker, "plant", as: "plant-1")
        #expect(try registry.subscribe([Subscription(filter: "$monitoring/oven-1/json", qos: .atMostOnce)]) == [.granted(.atMostOnce)])
        let oven = try Self.login(broker, "oven", as: "oven-1")
        #expect(try oven.subscribe([Subscription(filter: "$me/monitoring/json", qos: .atMostOnce)]) == [.granted(.atMostOnce)])
        let document = try registry.nextPublish()
        let text = String(decoding: document.payload, as: UTF8.self)
        #expect(document.topic == "$monitoring/oven-1/json" && !document.retain)
        for field in ["\"device_id\":\"oven-1\"", "\"registry_id\":\"plant-1\"", "\"last_auth_ip\":\"127.0.0.1\"", "\"online\":true",
                      "\"last_auth_time\":\"", "\"last_online_time\":\"", "\"last_pub_activity_time\":null"] {
            #expect(text.contains(field), "\(field) in \(text)")
        }
        // The device's own subscription through `$me` gets the next document (its subscribe, a second later) under the `$me` name.
        let own = try oven.nextPublish()
        #expect(own.topic == "$me/monitoring/json" && String(decoding: own.payload, as: UTF8.self).contains("\"last_sub_activity_time\":\"2"))
    }

    @Test("1,000 wrong passwords in a burst: each refused with CONNACK 4 and counted, while a connected registry keeps getting its device's messages")
    func wrongPasswordFlood() throws {
        let broker = try Self.start(RegistryPolicy(try RegistryFixture().directory))
        defer { broker.stop() }
        let registry = try Self.login(broker, "plant", as: "plant-1")
        _ = try registry.subscribe([Subscription(filter: "$devices/oven-1/events", qos: .atLeastOnce)])
        let oven = try Self.login(broker, "oven", as: "oven-1")

        // All 1,000 CONNECTs are sent before any answer is read: they queue for the login thread.
        raiseDescriptorLimit(to: 8192)  // 1,000 connections are 2,000 descriptors in this process
        var attackers: [RawMQTTClient] = []
        for index in 0..<1000 {
            let attacker = try RawMQTTClient(port: broker.port)
            try attacker.send(.connect(Connect(clientIdentifier: "attacker-\(index)", username: index % 2 == 0 ? "oven-1" : "nobody",
                                               password: Array("Wrong-password-\(index)".utf8))))
            attackers.append(attacker)
            if index % 250 == 0 {
                // The connected clients are served all along.
                try Self.publish(oven, "$devices/oven-1/events", "during \(index)", id: UInt16(index + 1))
                let message = try registry.nextPublish()
                #expect(String(decoding: message.payload, as: UTF8.self) == "during \(index)")
                try registry.send(.publishAcknowledgement(packetIdentifier: message.packetIdentifier ?? 0))
            }
        }
        for attacker in attackers {
            #expect(try attacker.next(timeout: .seconds(60)) == .connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .badUsernameOrPassword)))
            attacker.close()
        }
        try Self.publish(oven, "$devices/oven-1/events", "after", id: 2000)
        #expect(String(decoding: try registry.nextPublish().payload, as: UTF8.self) == "after")
        #expect(broker.statistics.loginsRefused == 1000)
    }
}
