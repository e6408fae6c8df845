import Foundation
import Modbus
import MQTT
import Testing
import TestSupport

/// A device's `state` when it comes back online after an outage.
@Suite("State after an outage")
struct StateAfterOutageTests {
    @Test("The first state after a device comes back online carries values read after its return")
    func stateAfterReturnIsFresh() async throws {
        let gateway = try GatewayFixture(start: false)
        let controller = try gateway.controller()
        controller.setRegisters(.inputRegisters, address: 0, [215])
        try gateway.startGateway()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/state"])
        let before = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") {
            $0["online"] as? Bool == true && ($0["values"] as? [String: Any])?["temperature"] as? Double == 21.5
        }
        #expect(before != nil)

        gateway.simulator.inject(.noAnswer, unit: 1, times: nil)
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") { $0["online"] as? Bool == false } != nil)
        // While it is away, its temperature and set point change.
        controller.setRegisters(.inputRegisters, address: 0, [307])
        controller.setRegisters(.holdingRegisters, address: 0, [555])
        let seen = inbox.messages.count
        gateway.simulator.clearFaults()

        let back = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state", after: seen) { $0["online"] as? Bool == true }
        let values = back?["values"] as? [String: Any]
        #expect(values?["temperature"] as? Double == 30.7, "first online state: \(String(describing: back))")
        #expect(values?["set_point"] as? Double == 55.5, "first online state: \(String(describing: back))")
        await client.close()
    }
}
