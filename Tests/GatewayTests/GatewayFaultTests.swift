import Foundation
import Glibc
import Modbus
import MQTT
import Testing
import TestSupport

/// `modbridge run` when controllers fail, restart or the config changes.
@Suite("modbridge run: offline and back, desired state, reload, bad configs", .serialized)
struct GatewayFaultTests {
    @Test("The config desired value is applied, and applied again after the controller restarts with defaults")
    func desiredStateReapplied() async throws {
        let gateway = try GatewayFixture()
        let controller = try gateway.controller()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/state", "$devices/oven-1/events/ack"])
        try await client.publish(topic: "$devices/oven-1/config", payload: Array(#"{"set_point": 80, "mode": "heat"}"#.utf8),
                                 qos: .atLeastOnce, retain: true)
        let applied = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events/ack") { $0["config"] as? Bool == true }
        #expect(applied?["ok"] as? Bool == true)
        #expect(controller.registers(.holdingRegisters, address: 0, count: 2) == [800, 1])

        // The controller stops answering, then comes back with its defaults (zeros).
        gateway.simulator.inject(.noAnswer, unit: 1, times: nil)
        let offline = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") { $0["online"] as? Bool == false }
        #expect(offline?["error"] as? String != nil)
        controller.restartWithDefaults()
        #expect(controller.registers(.holdingRegisters, address: 0, count: 2) == [0, 0])
        let seen = inbox.messages.count
        gateway.simulator.clearFaults()
        let online = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state", after: seen) { $0["online"] as? Bool == true }
        #expect(online != nil)
        #expect(await eventually { controller.registers(.holdingRegisters, address: 0, count: 2) == [800, 1] })
        await client.close()
    }

    @Test("A dead unit goes offline and is only probed while its neighbour keeps its polls; then it comes back")
    func deadUnitDoesNotStallNeighbours() async throws {
        let gateway = try GatewayFixture(units: [1, 2])
        let (client, inbox) = try await gateway.subscriber(["$devices/+/state", "$devices/oven-1/events"])
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-2/state") { $0["online"] as? Bool == true } != nil)
        gateway.simulator.inject(.noAnswer, unit: 2, times: nil)
        let offline = await GatewayFixture.message(in: inbox, on: "$devices/oven-2/state") { $0["online"] as? Bool == false }
        #expect((offline?["error"] as? String)?.contains("timeout") == true)

        // From now on: unit 1 keeps being polled (two groups of reads every 100 ms) while unit 2
        // only gets its probes, one at a time, with a growing wait between them.
        let start = gateway.simulator.requests.count
        #expect(await eventually({ gateway.simulator.requests.dropFirst(start).filter { $0.unit == 1 }.count >= 60 }, attempts: 1000))
        let window = gateway.simulator.requests.dropFirst(start)
        let unit1 = window.filter { $0.unit == 1 }.count
        let unit2 = window.filter { $0.unit == 2 }.count
        #expect(unit1 >= 60)
        #expect(unit2 <= 3, "unit 2 got \(unit2) requests while unit 1 got \(unit1): it should only be probed")

        let seen = inbox.messages.count
        gateway.simulator.clearFaults()
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-2/state", after: seen) { $0["online"] as? Bool == true } != nil)
        await client.close()
    }

    @Test("A config with errors is refused by run with every error listed, as by check")
    func badConfigRefused() throws {
        let folder = TemporaryFolder()
        try """
        { "buses": [{ "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "baud": 9601 }],
          "registries": [{ "id": "plant", "devices": [
            { "id": "oven-1", "bus": "line2", "unit": 1, "profile": "no-such-profile" }] }] }
        """.write(toFile: folder.path + "/config.json", atomically: true, encoding: .utf8)
        let run = try ModbridgeProcess.run(["run", "--config", folder.path + "/config.json"])
        let check = try ModbridgeProcess.run(["check", folder.path + "/config.json"])
        #expect(run.status == 1)
        let lines = run.error.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(lines)")
        #expect(lines.last == "\(folder.path)/config.json: 4 problems; nothing was started")
        #expect(lines.contains { $0.hasSuffix("$.registries[0].devices[0].bus: found \"line2\", expected the id of a bus (line1)") })
        #expect(lines.contains { $0.hasSuffix("$.buses[0].baud: found 9601, expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400") })
        #expect(run.error == check.error)
    }

    @Test("SIGHUP reloads the config: a removed device stops, a changed one restarts, the rest runs on")
    func reload() async throws {
        let gateway = try GatewayFixture(units: [1, 2, 3])
        let (client, inbox) = try await gateway.subscriber(["$devices/+/state"])
        for unit in 1...3 {
            #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-\(unit)/state") { $0["online"] as? Bool == true } != nil)
        }
        let process = try #require(gateway.process)
        // oven-3 goes away, oven-2 gets a slower interval (it restarts), oven-1 is unchanged.
        try gateway.writeConfig(units: [1, 2], intervals: [2: "200ms"])
        let seen = inbox.messages.count
        kill(process.pid, SIGHUP)
        let removed = await GatewayFixture.message(in: inbox, on: "$devices/oven-3/state", after: seen) { $0["error"] as? String == "removed by a reload" }
        #expect(removed?["online"] as? Bool == false)
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-2/state", after: seen) { $0["error"] as? String == "restarted by a reload" } != nil)
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-2/state", after: seen) { $0["online"] as? Bool == true } != nil)
        let requests = gateway.simulator.requests.count
        #expect(await eventually { gateway.simulator.requests.dropFirst(requests).filter { $0.unit == 1 }.count >= 10 })
        #expect(gateway.simulator.requests.dropFirst(requests).filter { $0.unit == 3 }.isEmpty)
        // oven-1 did not change: it was never restarted.
        #expect(!inbox.messages.dropFirst(seen).contains { $0.topic == "$devices/oven-1/state" && String(decoding: $0.payload, as: UTF8.self).contains("reload") })
        #expect(process.isRunning)

        // A config with an error is refused; the running one stays.
        try "{ \"buses\": 1 }".write(toFile: gateway.configFile, atomically: true, encoding: .utf8)
        kill(process.pid, SIGHUP)
        let after = gateway.simulator.requests.count
        #expect(await eventually { gateway.simulator.requests.dropFirst(after).filter { $0.unit == 2 }.count >= 5 })
        #expect(process.isRunning)
        await client.close()
    }
}
