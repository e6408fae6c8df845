import Foundation
import Modbus
import MQTT
import Testing
import TestSupport

/// `modbridge run` on Modbus ASCII lines: a line the test's simulator answers in ASCII, and a
/// simulator bus with `"framing": "ascii"` that the gateway starts itself.
@Suite("modbridge run on Modbus ASCII lines", .serialized)
struct GatewayASCIITests {
    @Test("Telemetry and a command over an ASCII line")
    func telemetryAndCommand() async throws {
        let gateway = try GatewayFixture(start: false, framing: .ascii)
        let controller = try gateway.controller()
        GatewayFixture.setKnownValues(on: controller)
        try gateway.startGateway()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/state", "$devices/oven-1/events/ack"])
        let state = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") {
            ($0["online"] as? Bool) == true && ($0["values"] as? [String: Any])?.count == 5
        }
        let values = try #require(state?["values"] as? [String: Any])
        #expect(values["set_point"] as? Double == 72.5)
        #expect(values["flow"] as? Double == 123.456)
        try await client.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": 61.5, "id": "a1"}"#.utf8), qos: .atLeastOnce)
        let ack = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events/ack") { $0["id"] as? String == "a1" }
        #expect(ack?["ok"] as? Bool == true)
        #expect(controller.registers(.holdingRegisters, address: 0, count: 1) == [615])
        #expect(gateway.simulator.requests.allSatisfy { $0.frame.first == UInt8(ascii: ":") })
        await client.close()
    }

    @Test("A simulator bus with framing ascii serves the gateway's polls")
    func simulatorBus() async throws {
        let gateway = try GatewayFixture(start: false)
        try """
        { "broker": { "listeners": [{ "host": "127.0.0.1", "port": \(gateway.port), "anonymousAs": "plant" }] },
          "profiles": ["\(gateway.folder.path)/test-oven.json"],
          "buses": [{ "id": "sim", "type": "simulator", "framing": "ascii" }],
          "registries": [{ "id": "plant", "devices": [{ "id": "oven-1", "bus": "sim", "unit": 1, "profile": "test-oven" }] }] }
        """.write(toFile: gateway.configFile, atomically: true, encoding: .utf8)
        try gateway.startGateway()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/state"])
        // The simulated controller's set point starts at 65.0 °C (holding 0 = 650).
        let state = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") {
            ($0["online"] as? Bool) == true && ($0["values"] as? [String: Any])?["set_point"] as? Double == 65
        }
        #expect(state != nil)
        await client.close()
    }
}
