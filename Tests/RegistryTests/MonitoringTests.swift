import Broker
import Registry
import Testing

@Suite("Registry: monitoring documents, their fields and their once-a-second throttle")
struct MonitoringTests {
    static func identity(_ entity: String, client: String = "c1") -> ClientIdentity {
        ClientIdentity(clientID: client, username: entity, remoteAddress: "10.0.0.5")
    }

    static func text(_ messages: [PolicyMessage]) -> [String] {
        messages.map { "\($0.topic) \(String(decoding: $0.payload, as: UTF8.self))" }
    }

    @Test("Connect, publish, subscribe, refusals and disconnect change the document; the first change goes at once, the rest when the second ends")
    func throttle() throws {
        let wallClock = TestWallClock()
        let policy = RegistryPolicy(try RegistryFixture().directory, wallClock: wallClock.clock)
        let start = ContinuousClock.now
        #expect(policy.dueMessages(now: start).isEmpty)
        policy.record(.connected(Self.identity("oven-1")), now: start)
        #expect(Self.text(policy.dueMessages(now: start)) == [
            "$monitoring/oven-1/json {\"device_id\":\"oven-1\",\"registry_id\":\"plant-1\",\"last_auth_time\":\"2026-12-06T23:41:07.123Z\","
            + "\"last_auth_ip\":\"10.0.0.5\",\"last_pub_activity_time\":null,\"last_sub_activity_time\":null,"
            + "\"last_online_time\":\"2026-12-06T23:41:07.123Z\",\"online\":true,\"connections\":1,"
            + "\"logins_refused\":0,\"publishes_denied\":0,\"subscriptions_denied\":0}",
        ])
        wallClock.advance(milliseconds: 200)
        policy.record(.published(Self.identity("oven-1")), now: start.advanced(by: .milliseconds(200)))
        #expect(policy.dueMessages(now: start.advanced(by: .milliseconds(200))).isEmpty)
        wallClock.advance(milliseconds: 300)
        policy.record(.subscribed(Self.identity("oven-1")), now: start.advanced(by: .milliseconds(500)))
        policy.record(.subscriptionDenied(Self.identity("oven-1"), filter: "$devices/oven-2/events"), now: start.advanced(by: .milliseconds(500)))
        policy.record(.publishDenied(Self.identity("oven-1"), topic: "$devices/oven-2/events", Refusal(entity: "oven-1", reason: "x")),
                      now: start.advanced(by: .milliseconds(500)))
        policy.record(.disconnected(Self.identity("oven-1")), now: start.advanced(by: .milliseconds(500)))
        policy.record(.loginRefused(clientID: "c2", remoteAddress: "10.0.0.6", Refusal(entity: "oven-1", reason: "wrong password")),
                      now: start.advanced(by: .milliseconds(500)))
        #expect(policy.dueMessages(now: start.advanced(by: .milliseconds(999))).isEmpty)
        // The second is over: one document with the last state.
        #expect(Self.text(policy.dueMessages(now: start.advanced(by: .seconds(1)))) == [
            "$monitoring/oven-1/json {\"device_id\":\"oven-1\",\"registry_id\":\"plant-1\",\"last_auth_time\":\"2026-12-06T23:41:07.123Z\","
            + "\"last_auth_ip\":\"10.0.0.5\",\"last_pub_activity_time\":\"2026-12-06T23:41:07.323Z\",\"last_sub_activity_time\":\"2026-12-06T23:41:07.623Z\","
            + "\"last_online_time\":\"2026-12-06T23:41:07.623Z\",\"online\":false,\"connections\":0,"
            + "\"logins_refused\":1,\"publishes_denied\":1,\"subscriptions_denied\":1}",
        ])
        #expect(policy.dueMessages(now: start.advanced(by: .seconds(5))).isEmpty)
    }

    @Test("Each device has its own throttle; registries and unknown entities have no document")
    func perDevice() throws {
        let policy = RegistryPolicy(try RegistryFixture().directory, wallClock: TestWallClock().clock)
        let now = ContinuousClock.now
        policy.record(.connected(Self.identity("oven-1")), now: now)
        policy.record(.connected(Self.identity("oven-2", client: "c2")), now: now)
        policy.record(.connected(Self.identity("plant-1", client: "c3")), now: now)
        policy.record(.loginRefused(clientID: "c4", remoteAddress: "10.0.0.6", Refusal(entity: "nobody", reason: "unknown user name")), now: now)
        #expect(policy.dueMessages(now: now).map(\.topic) == ["$monitoring/oven-1/json", "$monitoring/oven-2/json"])
    }

    @Test("A gateway device's document carries the provider's fields, escaped as JSON strings")
    func gatewayFields() throws {
        let policy = RegistryPolicy(try RegistryFixture().directory, wallClock: TestWallClock().clock, monitoringFields: { device in
            [("modbus_link", .string("down: \"timeout\"\n")), ("modbus_errors", .integer(3)), ("polled", .bool(true)), ("device", .string(device))]
        })
        let now = ContinuousClock.now
        policy.record(.connected(ClientIdentity(clientID: "meter-1", username: "meter-1", remoteAddress: "in-process")), now: now)
        policy.record(.connected(Self.identity("oven-1")), now: now)
        let documents = Self.text(policy.dueMessages(now: now))
        #expect(documents.count == 2)
        #expect(documents.first?.hasSuffix(",\"modbus_link\":\"down: \\\"timeout\\\"\\n\",\"modbus_errors\":3,\"polled\":true,\"device\":\"meter-1\"}") == true)
        #expect(documents.last?.contains("modbus") == false)
    }
}
