import Broker
import MQTT
import Synchronization
import TestSupport
import Testing

/// A policy in the shape of IOT-CORE.md, small enough to read: passwords per user, devices may
/// publish under their own `devices/<id>/` only, `$me/` and one alias rewrite to it.
struct DevicePolicy: BrokerPolicy {
    func authenticate(_ request: ConnectRequest) -> AuthenticationStep {
        guard let username = request.username else { return .decided(.refused(.notAuthorized, Refusal(entity: nil, reason: "no user"))) }
        guard request.password == Array("secret-\(username)".utf8) else {
            return .decided(.refused(.badUsernameOrPassword, Refusal(entity: username, reason: "bad password")))
        }
        return .decided(.accepted(ClientIdentity(clientID: request.clientID, username: username, remoteAddress: request.remoteAddress),
                                  DeviceRules(username: username)))
    }

    func attachLocal(_ identity: ClientIdentity) -> Authentication {
        .accepted(identity, DeviceRules(username: identity.username ?? ""))
    }
}

/// The rules of one user of `DevicePolicy`.
final class DeviceRules: SessionPolicy {
    let username: String

    init(username: String) { self.username = username }

    func publish(to topic: String) -> PublishDecision {
        var canonical = topic
        if topic.hasPrefix("$me/") { canonical = "devices/\(username)/" + topic.dropFirst(4) }
        if topic.hasPrefix("oven/") { canonical = "devices/oven1/" + topic.dropFirst(5) }
        guard username == "registry" || canonical.hasPrefix("devices/\(username)/") else {
            return .denied(Refusal(entity: username, reason: "not its topic"))
        }
        return .allowed(topic: canonical)
    }

    func subscribe(to filter: String) -> [FilterRewrite] {
        var rewrite = FilterRewrite(filter: filter)
        if filter.hasPrefix("oven/") {
            rewrite = FilterRewrite(filter: "devices/oven1/" + filter.dropFirst(5),
                                    presentedPrefix: PresentedPrefix(canonical: "devices/oven1/", presented: "oven/"))
        }
        if username == "registry" { return [rewrite] }
        return rewrite.filter.hasPrefix("devices/\(username)/") ? [rewrite] : []
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
