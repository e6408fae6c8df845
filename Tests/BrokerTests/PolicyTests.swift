import Broker
import MQTT
import Synchronization
import TestSupport
import Testing

/// A policy in the shape of IOT-CORE.md, small enough to read: passwords per user, devices may
/// publish under their own `devices/<id>/` only, `$me/` and one alias rewrite to it.
struct DevicePolicy: BrokerPolicy {
    func authenticate(_ request: ConnectRequest) -> Authentication {
        guard let username = request.username else { return .refused(.notAuthorized) }
        guard request.password == Array("secret-\(username)".utf8) else { return .refused(.badUsernameOrPassword) }
        return .accepted(ClientIdentity(clientID: request.clientID, username: username, remoteAddress: request.remoteAddress))
    }

    func rewriteTopic(_ topic: String, from client: ClientIdentity) -> String {
        if topic.hasPrefix("$me/") { return "devices/\(client.username ?? "")/" + topic.dropFirst(4) }
        if topic.hasPrefix("oven/") { return "devices/oven1/" + topic.dropFirst(5) }
        return topic
    }

    func rewriteFilter(_ filter: String, for client: ClientIdentity) -> FilterRewrite {
        if filter.hasPrefix("oven/") {
            return FilterRewrite(filter: "devices/oven1/" + filter.dropFirst(5), presentedPrefix: ("devices/oven1/", "oven/"))
        }
        return FilterRewrite(filter: filter)
    }

    func mayPublish(_ topic: String, client: ClientIdentity) -> Bool {
        client.username == "registry" || topic.hasPrefix("devices/\(client.username ?? "")/")
    }

    func grantSubscription(_ filter: String, qos: QoS, client: ClientIdentity) -> QoS? {
        if client.username == "registry" { return min(qos, .atLeastOnce) }
        return filter.hasPrefix("devices/\(client.username ?? "")/") ? qos : nil
    }
}

@Suite("Broker: policy hooks (authentication, authorisation, topic rewrite) and in-process clients")
struct PolicyTests {
    @Test("Authentication: CONNACK 5 without a user, 4 with a wrong password, accepted with the right one")
    func authentication() throws {
        let broker = try startBroker(policy: DevicePolicy())
        defer { broker.stop() }
        let anonymous = try RawMQTTClient(port: broker.port)
        #expect(try anonymous.connect(Connect(clientIdentifier: "a")) == ConnectAcknowledgement(sessionPresent: false, returnCode: .notAuthorized))
        #expect(anonymous.waitUntilClosed())
        let wrong = try RawMQTTClient(port: broker.port)
        #expect(try wrong.connect(Connect(clientIdentifier: "b", username: "oven1", password: Array("nope")))
                == ConnectAcknowledgement(sessionPresent: false, returnCode: .badUsernameOrPassword))
        #expect(wrong.waitUntilClosed())
        _ = try rawClient(broker, "c", username: "oven1", password: Array("secret-oven1"))
    }

    @Test("Authorisation: a forbidden PUBLISH disconnects; a forbidden filter gets 0x80 and the connection stays; a forbidden will topic is refused at CONNECT")
    func authorisation() throws {
        let broker = try startBroker(policy: DevicePolicy())
        defer { broker.stop() }
        let registry = try rawClient(broker, "registry", username: "registry", password: Array("secret-registry"))
        _ = try registry.subscribe([Subscription(filter: "devices/#", qos: .exactlyOnce)])
        let oven = try rawClient(broker, "oven1", username: "oven1", password: Array("secret-oven1"))
        #expect(try oven.subscribe([Subscription(filter: "devices/oven1/commands", qos: .atLeastOnce),
                                    Subscription(filter: "devices/oven2/events", qos: .atLeastOnce)], identifier: 3)
                == [.granted(.atLeastOnce), .failure])
        try oven.send(.publish(Publish(topic: "devices/oven1/events", payload: [1])))
        let allowed = try registry.nextPublish()
        #expect(allowed.topic == "devices/oven1/events")
        try oven.send(.publish(Publish(topic: "devices/oven2/events", payload: [2])))
        #expect(oven.waitUntilClosed())
        #expect(registry.staysQuiet(for: .milliseconds(300)))

        let sneaky = try RawMQTTClient(port: broker.port)
        let answer = try sneaky.connect(Connect(clientIdentifier: "s", will: Will(topic: "devices/oven2/state", payload: [0]),
                                                username: "oven1", password: Array("secret-oven1")))
        #expect(answer.returnCode == .notAuthorized)
    }

    @Test("Topic rewrite: $me/ and an alias publish to the canonical topic; a subscriber through the alias gets messages under the alias name")
    func rewrite() throws {
        let broker = try startBroker(policy: DevicePolicy())
        defer { broker.stop() }
        let registry = try rawClient(broker, "registry", username: "registry", password: Array("secret-registry"))
        _ = try registry.subscribe([Subscription(filter: "devices/oven1/#", qos: .atMostOnce)])
        let aliasWatcher = try rawClient(broker, "watcher", username: "registry", password: Array("secret-registry"))
        _ = try aliasWatcher.subscribe([Subscription(filter: "oven/#", qos: .atMostOnce)])
        let oven = try rawClient(broker, "oven1", username: "oven1", password: Array("secret-oven1"))
        try oven.send(.publish(Publish(topic: "$me/events", payload: [1])))
        try oven.send(.publish(Publish(topic: "oven/state", payload: [2])))
        #expect(try registry.nextPublish().topic == "devices/oven1/events")
        #expect(try registry.nextPublish().topic == "devices/oven1/state")
        #expect(try aliasWatcher.nextPublish().topic == "oven/events")
        #expect(try aliasWatcher.nextPublish().topic == "oven/state")
    }

    @Test("In-process clients: publish to socket subscribers and receive from socket publishers without a socket, under the same policy")
    func localClients() async throws {
        let broker = try startBroker(policy: DevicePolicy())
        defer { broker.stop() }
        let device = try await broker.connectLocal(ClientIdentity(clientID: "oven1", username: "oven1", remoteAddress: "in-process"))
        let inbox = Inbox(device.messages)
        #expect(try await device.subscribe([Subscription(filter: "devices/oven1/commands/#", qos: .atLeastOnce),
                                            Subscription(filter: "devices/oven2/#", qos: .atLeastOnce)]) == [.granted(.atLeastOnce), .failure])
        let registry = try rawClient(broker, "registry", username: "registry", password: Array("secret-registry"))
        _ = try registry.subscribe([Subscription(filter: "devices/+/events", qos: .atLeastOnce)])

        try await device.publish(topic: "$me/events", payload: Array("{\"pv\":650}"), qos: .atLeastOnce)
        let event = try registry.nextPublish()
        #expect(event.topic == "devices/oven1/events" && event.payload == Array("{\"pv\":650}") && event.qos == .atLeastOnce)

        try registry.send(.publish(Publish(topic: "devices/oven1/commands/sp", payload: Array("700"), qos: .atLeastOnce, packetIdentifier: 4)))
        #expect(try registry.next() == .publishAcknowledgement(packetIdentifier: 4))
        let command = await inbox.wait(for: 1)
        #expect(command.map(\.topic) == ["devices/oven1/commands/sp"] && command.first?.payload == Array("700"))

        await #expect(throws: BrokerError.notAuthorized(clientID: "oven1", topic: "devices/oven2/events")) {
            try await device.publish(topic: "devices/oven2/events", payload: [1])
        }
        await #expect(throws: BrokerError.self) { try await device.publish(topic: "devices/oven1/#", payload: [1]) }
        // A socket client cannot take the in-process client's id.
        let impostor = try RawMQTTClient(port: broker.port)
        #expect(try impostor.connect(Connect(clientIdentifier: "oven1", username: "oven1", password: Array("secret-oven1"))).returnCode == .identifierRejected)
        device.disconnect()
        await broker.stop()
        await #expect(throws: BrokerError.notRunning) { try await device.publish(topic: "$me/events", payload: [1]) }
    }

    @Test("post: an in-process publish that does not wait arrives in order; a refused one reports why")
    func localPost() async throws {
        let broker = try startBroker(policy: DevicePolicy())
        defer { broker.stop() }
        let device = try await broker.connectLocal(ClientIdentity(clientID: "oven1", username: "oven1", remoteAddress: "in-process"))
        let registry = try rawClient(broker, "registry", username: "registry", password: Array("secret-registry"))
        _ = try registry.subscribe([Subscription(filter: "devices/+/events", qos: .atLeastOnce)])
        let refusals = Mutex<[BrokerError]>([])
        for value in 1...20 {
            device.post(topic: "$me/events", payload: [UInt8(value)], qos: .atLeastOnce) { error in refusals.withLock { $0.append(error) } }
        }
        device.post(topic: "devices/oven2/events", payload: [99]) { error in refusals.withLock { $0.append(error) } }
        var received: [UInt8] = []
        for _ in 1...20 {
            let message = try registry.nextPublish()
            #expect(message.topic == "devices/oven1/events")
            received += message.payload
        }
        #expect(received == (1...20).map { UInt8($0) })
        #expect(await eventually { refusals.withLock { $0 } == [.notAuthorized(clientID: "oven1", topic: "devices/oven2/events")] })
        await broker.stop()
        device.post(topic: "$me/events", payload: [1]) { error in refusals.withLock { $0.append(error) } }
        #expect(refusals.withLock { $0.last } == .notRunning)
    }
}
