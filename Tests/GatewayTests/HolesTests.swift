import Foundation
import GatewayCore
import Mapping
import Modbus
import Testing
import TestSupport

/// A profile's `holes`: the planner never reads across addresses the device does not implement.
@Suite("Holes in a profile: no read spans an address the device does not implement")
struct HolesTests {
    typealias Rig = DeviceChannelTests.Rig

    /// Holding 0, 1 and 6 are points; 2…5 are not implemented by the device. With the default
    /// `maxGap` (8) a plan without holes reads 0…6 in one request.
    static func profile(holes: Bool) -> String {
        let holeList = holes ? #""holes": [{ "table": "holding", "from": 2, "to": 5, "description": "reserved" }],"# : ""
        return """
            { "model": "test-oven", "vendor": "modbridge tests", \(holeList)
              "defaults": { "interval": "100ms" },
              "points": [
                { "name": "set_point", "table": "holding", "address": 0, "type": "int16", "access": "readwrite" },
                { "name": "mode", "table": "holding", "address": 1, "type": "uint16" },
                { "name": "limit", "table": "holding", "address": 6, "type": "uint16" },
                { "name": "temperature", "table": "input", "address": 0, "type": "int16" } ] }
            """
    }

    /// A controller that answers exception 02 for holding 2…5.
    static func controller(_ unit: UInt8) -> SimulatedController {
        SimulatedController(unit: unit, temperatureModel: false, unimplemented: [.holdingRegisters: [2...5]])
    }

    /// FC03 requests the simulator received that touch holding 2…5 (each answered with exception 02).
    static func readsIntoTheHole(_ rig: Rig) -> [SimulatorRequest] {
        rig.gateway.simulator.requests.filter { request in
            guard request.functionCode == 3 else { return false }
            let address = Int(request.frame[2]) << 8 | Int(request.frame[3])
            let count = Int(request.frame[4]) << 8 | Int(request.frame[5])
            return address <= 5 && address + count > 2
        }
    }

    @Test("The plan of a profile with holes never spans them")
    func planRespectsHoles() throws {
        let profile = try DeviceProfile.parse(Data(Self.profile(holes: true).utf8), file: "p.json")
        #expect(profile.holes == [AddressHole(table: .holding, addresses: 2...5, description: "reserved")])
        let plan = PollPlan(profile: profile, start: .now)
        #expect(plan.groups.map { $0.reads.map(\.read.description) } == [["0+2", "6+1"], ["0+1"]])
        let withoutHoles = PollPlan(profile: try DeviceProfile.parse(Data(Self.profile(holes: false).utf8), file: "p.json"), start: .now)
        #expect(withoutHoles.groups.map { $0.reads.map(\.read.description) } == [["0+7"], ["0+1"]])
    }

    @Test("Without holes the device answers exception 02 and the plan splits; with them, no request touches the hole")
    func noExceptionWithHoles() async throws {
        let plain = try Rig(profile: Self.profile(holes: false), controller: Self.controller)
        plain.start()
        #expect(await eventually { !plain.log.events("plan_split").isEmpty })
        #expect(Self.readsIntoTheHole(plain).count == 1)
        await plain.worker.stop(reason: "test over")

        let rig = try Rig(profile: Self.profile(holes: true), controller: Self.controller)
        rig.controller.setRegisters(.holdingRegisters, address: 0, [215, 1])
        rig.controller.setRegisters(.holdingRegisters, address: 6, [900])
        rig.start()
        let state = await rig.channel.first(.state) { ($0["values"] as? [String: Any])?.count == 4 }
        let values = try #require(state?["values"] as? [String: Any])
        #expect(values["set_point"] as? Int == 215 && values["mode"] as? Int == 1 && values["limit"] as? Int == 900)
        // A few more cycles: still nothing read into the hole, nothing split.
        let seen = rig.gateway.simulator.requests.count
        #expect(await eventually { rig.gateway.simulator.requests.count >= seen + 6 })
        #expect(Self.readsIntoTheHole(rig).isEmpty)
        #expect(rig.log.events("plan_split").isEmpty)
        #expect(rig.gateway.simulator.requests.allSatisfy { $0.answeredAt != nil })
        await rig.worker.stop(reason: "test over")
    }
}
