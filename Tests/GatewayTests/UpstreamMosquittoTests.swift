import Foundation
import Glibc
import MQTT
import MQTTClient
import Testing
import TestSupport

/// Upstream mode against a real Mosquitto: telemetry arrives under the topic template, each
/// device logs in as itself (its certificate or its password; the ACL lets it use only its own
/// topics, so a wrong identity would deliver nothing), commands from upstream are written and
/// acknowledged, and a wrong CA or password is a clear error retried with backoff.
@Suite(.serialized) struct UpstreamMosquittoTests {
    @Test(arguments: [UpstreamGatewayFixture.Login.certificates, .passwords])
    func telemetryAndCommandsFlowWithEachDevicesOwnIdentity(login: UpstreamGatewayFixture.Login) async throws {
        let fixture = try UpstreamGatewayFixture(login: login)
        fixture.setCounter(41)
        let (consumer, inbox) = try await fixture.consumer(["plant/+/events", "plant/+/events/ack", "plant/+/state"])
        try fixture.startGateway()

        for device in ["oven-1", "oven-2"] {
            let events = await GatewayFixture.message(in: inbox, on: "plant/\(device)/events") { $0["counter"] as? Int == 41 }
            #expect(events != nil, "no events of \(device) upstream; gateway log: \(fixture.log)\nmosquitto: \(fixture.mosquitto.log)")
            let state = await GatewayFixture.message(in: inbox, on: "plant/\(device)/state") { $0["online"] as? Bool == true }
            #expect(state != nil, "no state of \(device) upstream")
        }
        // Each connection is the device's own: Mosquitto names the user it logged in as.
        #expect(fixture.mosquitto.log.contains("u'oven-1'") && fixture.mosquitto.log.contains("u'oven-2'"),
                "\(fixture.mosquitto.log)")

        // A command from the cloud side is written to the controller and acknowledged upstream.
        try await consumer.publish(topic: "plant/oven-2/commands/set_point", payload: Array(#"{"value": 70.5, "id": "cloud-1"}"#.utf8),
                                   qos: .atLeastOnce)
        let ack = await GatewayFixture.message(in: inbox, on: "plant/oven-2/events/ack") { $0["id"] as? String == "cloud-1" }
        #expect(ack?["ok"] as? Bool == true, "ack: \(String(describing: ack)); log: \(fixture.log)")
        #expect(try fixture.controller(2).registers(.holdingRegisters, address: 0, count: 1) == [705])
        #expect(try fixture.controller(1).registers(.holdingRegisters, address: 0, count: 1) != [705])

        // A registry command arrives on every device's connection; each device runs it once (a bare
        // value has no request id, so no de-duplication could hide a second delivery).
        try await consumer.publish(topic: "plant-registries/plant/commands/set_point", payload: Array("33.5".utf8), qos: .atLeastOnce)
        for device in ["oven-1", "oven-2"] {
            let ack = await GatewayFixture.message(in: inbox, on: "plant/\(device)/events/ack") { ($0["written"] as? [String: Any])?["set_point"] as? Double == 33.5 }
            #expect(ack?["ok"] as? Bool == true, "\(device): \(String(describing: ack))")
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(UpstreamSharedTests.setPointWrites(fixture, value: 335) == 2)

        // A clean stop delivers the devices' last `state` before the links close.
        #expect(fixture.stopGateway() == 0)
        #expect(fixture.log.contains("gateway_stopped"))
        for device in ["oven-1", "oven-2"] {
            // (The first `state`, before the first read, also says offline, with no error.)
            let last = await GatewayFixture.message(in: inbox, on: "plant/\(device)/state") { $0["error"] as? String == "gateway stopped" }
            #expect(last?["online"] as? Bool == false, "\(device): no last state; gateway: \(fixture.log.suffix(2000))")
        }
        await consumer.disconnect()
    }

    @Test func aWrongCertificateAuthorityIsAClearErrorRetriedWithBackoff() async throws {
        let fixture = try UpstreamGatewayFixture(login: .passwords, caName: "stranger-ca")
        try fixture.certificates.makeSelfSigned("stranger-ca", subject: "/CN=stranger-ca", days: "30")
        try fixture.startGateway()
        try await Task.sleep(for: .seconds(3))
        let failures = fixture.log.split(separator: "\n").filter { $0.contains("upstream_connect_failed") && $0.contains("link=oven-1") }
        #expect(!failures.isEmpty, "\(fixture.log)")
        #expect(failures.allSatisfy { $0.contains("certificate verify failed") }, "\(failures)")
        // Delays of 200 ms, 400, 800, 1600 (±25 %) in 3 s: a handful of attempts, not a tight loop.
        #expect((2...8).contains(failures.count), "\(failures.count) attempts in 3 s")
        #expect(fixture.stopGateway() == 0)
    }

    @Test func aWrongPasswordIsAClearErrorRetriedWithBackoffUntilAReloadPutsItRight() async throws {
        let fixture = try UpstreamGatewayFixture(login: .plainPasswords, password: { $0 == "oven-1" ? "not-the-password" : nil })
        let (consumer, inbox) = try await fixture.consumer(["plant/+/events"])
        try fixture.startGateway()
        // oven-2 logs in and publishes while oven-1 is refused.
        #expect(await GatewayFixture.message(in: inbox, on: "plant/oven-2/events") != nil)
        try await Task.sleep(for: .seconds(3))
        let failures = fixture.log.split(separator: "\n").filter { $0.contains("upstream_connect_failed") && $0.contains("link=oven-1") }
        #expect(!failures.isEmpty, "\(fixture.log)")
        #expect(failures.allSatisfy { $0.contains("not authorized") || $0.contains("bad user name or password") }, "\(failures)")
        #expect((2...8).contains(failures.count), "\(failures.count) attempts in 3 s")
        #expect(!inbox.messages.contains { $0.topic.hasPrefix("plant/oven-1/") })

        // The password put right in the config and SIGHUP: the device restarts with its new login
        // and what it queued meanwhile arrives.
        let config = try String(contentsOfFile: fixture.configFile, encoding: .utf8)
        try config.replacingOccurrences(of: "not-the-password", with: "oven-1-upstream-pw")
            .write(toFile: fixture.configFile, atomically: true, encoding: .utf8)
        fixture.signal(SIGHUP)
        #expect(await GatewayFixture.message(in: inbox, on: "plant/oven-1/events", within: 15) != nil, "\(fixture.log)")
        await consumer.disconnect()
        #expect(fixture.stopGateway() == 0)
    }
}

/// Mode both with one shared connection: a registry command from the cloud reaches every device
/// of the registry once, the same request id sent locally and upstream is written once, and the
/// monitoring document on the embedded broker shows the upstream queue.
@Suite(.serialized) struct UpstreamSharedTests {
    /// Writes of `value` to holding register 0 (the set point) the simulator received.
    static func setPointWrites(_ fixture: UpstreamGatewayFixture, value: UInt16) -> Int {
        fixture.simulator.requests.filter { request in
            let frame = request.frame
            guard request.functionCode == 6, frame.count >= 6 else { return false }
            return Int(frame[2]) << 8 | Int(frame[3]) == 0 && UInt16(frame[4]) << 8 | UInt16(frame[5]) == value
        }.count
    }

    @Test func registryCommandsDeduplicationAndMonitoring() async throws {
        let fixture = try UpstreamGatewayFixture(login: .plainPasswords, mode: "both", shared: true)
        let (consumer, inbox) = try await fixture.consumer(["plant/+/events/ack", "plant/+/state"])
        try fixture.startGateway()
        let (local, localInbox) = try await fixture.localConsumer(["$devices/+/events/ack", "$monitoring/+/json"])
        for device in ["oven-1", "oven-2"] {
            #expect(await GatewayFixture.message(in: inbox, on: "plant/\(device)/state") != nil, "\(fixture.log)")
        }
        // One shared connection, logged in as the gateway's own identity.
        #expect(fixture.mosquitto.log.contains("as gateway-1"), "\(fixture.mosquitto.log)")

        // A registry command from the cloud: both devices written once each, both acknowledge.
        try await consumer.publish(topic: "plant-registries/plant/commands/set_point", payload: Array(#"{"value": 61.5, "id": "all-1"}"#.utf8),
                                   qos: .atLeastOnce)
        for device in ["oven-1", "oven-2"] {
            let ack = await GatewayFixture.message(in: inbox, on: "plant/\(device)/events/ack") { $0["id"] as? String == "all-1" }
            #expect(ack?["ok"] as? Bool == true, "\(device): \(String(describing: ack))")
        }
        #expect(Self.setPointWrites(fixture, value: 615) == 2)

        // The same request from a local consumer and from the cloud runs once.
        let command = Array(#"{"value": 48.0, "id": "both-1"}"#.utf8)
        try await local.publish(topic: "$devices/oven-1/commands/set_point", payload: command, qos: .atLeastOnce)
        try await consumer.publish(topic: "plant/oven-1/commands/set_point", payload: command, qos: .atLeastOnce)
        #expect(await GatewayFixture.message(in: localInbox, on: "$devices/oven-1/events/ack") { $0["id"] as? String == "both-1" } != nil)
        for _ in 0..<500 where !fixture.log.contains("command_duplicate") { try await Task.sleep(for: .milliseconds(10)) }
        #expect(fixture.log.contains("command_duplicate"), "\(fixture.log)")
        try await Task.sleep(for: .milliseconds(300))
        #expect(Self.setPointWrites(fixture, value: 480) == 1)
        #expect(try fixture.controller(1).registers(.holdingRegisters, address: 0, count: 1) == [480])

        // The monitoring document carries the upstream connection and its queue.
        let monitoring = await GatewayFixture.message(in: localInbox, on: "$monitoring/oven-1/json", within: 15) {
            $0["upstream_connected"] as? Bool == true
        }
        #expect(monitoring?["upstream_queue_depth"] is Int, "\(String(describing: monitoring))")
        #expect(monitoring?["upstream_queue_dropped"] as? Int == 0)

        await local.disconnect()
        await consumer.disconnect()
        #expect(fixture.stopGateway() == 0)
    }
}
