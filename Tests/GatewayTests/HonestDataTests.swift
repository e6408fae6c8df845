import Foundation
import GatewayCore
import Modbus
import Testing
import TestSupport

/// A failed or stale read is published as an error or kept apart as stale, never as a current number.
@Suite("Honest data: unanswered reads are errors, state never shows old numbers as current")
struct HonestDataTests {
    typealias Rig = DeviceChannelTests.Rig

    static func temperatureError(_ document: [String: Any]) -> String? {
        (document["temperature"] as? [String: Any])?["error"] as? String
    }

    @Test("A read that times out publishes its points as errors in events, once per streak, then the numbers again")
    func unansweredReadIsAnError() async throws {
        let rig = try Rig()
        GatewayFixture.setKnownValues(on: rig.controller)
        rig.start()
        #expect(await rig.firstFullState() != nil)

        // Two input-register reads in a row go unanswered (the other tables answer, so the
        // device stays online).
        let start = rig.channel.published.count
        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [4], times: 2)
        let failed = try #require(await rig.channel.find(.events, after: start) { Self.temperatureError($0) != nil })
        #expect(Self.temperatureError(failed.object) == "timeout (no answer)")
        #expect((failed.object["flow"] as? [String: Any])?["error"] as? String == "timeout (no answer)")
        let back = try #require(await rig.channel.find(.events, after: failed.position + 1) { $0["temperature"] as? Double == 65.3 })
        // Between them, no number for temperature, and the error only once.
        let between = rig.channel.published[start..<back.position].filter { $0.kind == .events }.compactMap { GatewayFixture.json($0.payload) }
        #expect(between.filter { Self.temperatureError($0) != nil }.count == 1)
        #expect(!between.contains { $0["temperature"] is Double })
        await rig.worker.stop(reason: "test over")
    }

    @Test("Offline, state holds no current values and the last good ones in stale with their time; back online, state comes from fresh reads only")
    func stateWhileOfflineAndBack() async throws {
        let rig = try Rig()
        GatewayFixture.setKnownValues(on: rig.controller)
        rig.start()
        #expect(await rig.firstFullState() != nil)

        let start = rig.channel.published.count
        rig.gateway.simulator.inject(.noAnswer, unit: 1, times: nil)
        let offline = try #require(await rig.channel.first(.state, after: start) { $0["online"] as? Bool == false })
        #expect((offline["values"] as? [String: Any])?.isEmpty == true, "\(offline)")
        let stale = try #require(offline["stale"] as? [String: Any])
        #expect(Set(stale.keys) == ["set_point", "mode", "temperature", "flow", "alarm"])
        let temperature = try #require(stale["temperature"] as? [String: Any])
        #expect(temperature["value"] as? Double == 65.3)
        #expect((temperature["ts"] as? String)?.hasSuffix("Z") == true)
        #expect((stale["mode"] as? [String: Any])?["value"] as? String == "heat")
        // What events said about temperature since the fault is an error, never a number.
        let events = rig.channel.published[start...].filter { $0.kind == .events }.compactMap { GatewayFixture.json($0.payload) }
        #expect(events.filter { $0["temperature"] != nil }.allSatisfy { Self.temperatureError($0) != nil })

        // While it is away its values change; back online, state shows only the new ones.
        rig.controller.setRegisters(.inputRegisters, address: 0, [307])
        rig.controller.setRegisters(.holdingRegisters, address: 0, [555])
        let seen = rig.channel.published.count
        rig.gateway.simulator.clearFaults()
        let online = try #require(await rig.channel.first(.state, after: seen) { $0["online"] as? Bool == true })
        let values = try #require(online["values"] as? [String: Any])
        #expect(values["temperature"] as? Double == 30.7, "\(online)")
        #expect(values["set_point"] as? Double == 55.5, "\(online)")
        #expect(values.count == 5 && online["stale"] == nil, "\(online)")
        await rig.worker.stop(reason: "test over")
    }
}
