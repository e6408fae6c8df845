import FoundationEssentials
import Mapping
import Modbus
import GatewayCore
import Testing

@Suite("Poll and write plans of a device")
struct PlanTests {
    private func profile(_ points: String, limits: String = "{}") throws -> DeviceProfile {
        try DeviceProfile.parse(Data(#"{ "model": "p", "vendor": "v", "limits": \#(limits), "points": [\#(points)] }"#.utf8), file: "p.json")
    }

    @Test("Points are grouped per table and interval, and each group read with the fewest requests")
    func groups() throws {
        let plan = PollPlan(profile: try profile("""
            { "name": "a", "table": "holding", "address": 0, "type": "int16" },
            { "name": "b", "table": "holding", "address": 5, "type": "int32" },
            { "name": "c", "table": "holding", "address": 40, "type": "int16" },
            { "name": "d", "table": "holding", "address": 1, "type": "int16", "interval": "10s" },
            { "name": "e", "table": "input", "address": 0, "type": "int16" },
            { "name": "f", "table": "coil", "address": 3 },
            { "name": "g", "table": "holding", "address": 2, "type": "int16", "access": "write" }
            """), start: .now)
        let summary = plan.groups.map { group in "\(group.table.rawValue)/\(group.interval.milliseconds): " + group.reads.map { "\($0.read)\($0.points)" }.joined(separator: " ") }
        #expect(summary == ["holding/1000: 0+7[0, 1] 40+1[2]", "holding/10000: 1+1[3]", "input/1000: 0+1[4]", "coil/1000: 3+1[5]"])
        #expect(plan.requestsPerCycle == 5)
    }

    @Test("Exception 02 on a merged read splits it at its gaps, then between its points, and is remembered")
    func learnsBoundaries() throws {
        var plan = PollPlan(profile: try profile("""
            { "name": "a", "table": "holding", "address": 0, "type": "int16" },
            { "name": "b", "table": "holding", "address": 1, "type": "int16" },
            { "name": "c", "table": "holding", "address": 6, "type": "int16" }
            """), start: .now)
        #expect(plan.groups[0].reads.map(\.read.description) == ["0+7"])
        var split = plan.learnIllegalAddress(in: plan.groups[0].reads[0])
        #expect(split)
        #expect(plan.groups[0].reads.map(\.read.description) == ["0+2", "6+1"])
        split = plan.learnIllegalAddress(in: plan.groups[0].reads[0])
        #expect(split)
        #expect(plan.groups[0].reads.map(\.read.description) == ["0+1", "1+1", "6+1"])
        // One point's own address refused: nothing left to split.
        split = plan.learnIllegalAddress(in: plan.groups[0].reads[2])
        #expect(!split)
    }

    @Test("Writes: adjacent registers in one FC16 when the device takes it, FC06 each when it does not")
    func writes() throws {
        let writes = [NamedWrite(name: "b", write: .registers(address: 11, values: [2, 3])),
                      NamedWrite(name: "a", write: .registers(address: 10, values: [1])),
                      NamedWrite(name: "z", write: .registers(address: 20, values: [9])),
                      NamedWrite(name: "k", write: .coil(address: 4, value: true)),
                      NamedWrite(name: "l", write: .coil(address: 5, value: false))]
        var limits = DeviceLimits()
        #expect(WritePlan.steps(for: writes, limits: limits).map(\.step) == [
            .request(.writeMultipleRegisters(address: 10, values: [1, 2, 3])), .request(.writeSingleRegister(address: 20, value: 9)),
            .request(.writeMultipleCoils(address: 4, values: [true, false])),
        ])
        #expect(WritePlan.steps(for: writes, limits: limits).map(\.names) == [["a", "b"], ["z"], ["k", "l"]])
        limits.writeMultiple = false
        #expect(WritePlan.steps(for: writes, limits: limits).map(\.step) == [
            .request(.writeSingleRegister(address: 10, value: 1)), .request(.writeSingleRegister(address: 11, value: 2)),
            .request(.writeSingleRegister(address: 12, value: 3)), .request(.writeSingleRegister(address: 20, value: 9)),
            .request(.writeSingleCoil(address: 4, value: true)), .request(.writeSingleCoil(address: 5, value: false)),
        ])
        limits = DeviceLimits()
        limits.writeSingle = false
        limits.maxRegistersPerWrite = 2
        // No FC06: single registers go as FC16 too; a value is never split over two requests.
        #expect(WritePlan.steps(for: writes, limits: limits).map(\.step) == [
            .request(.writeMultipleRegisters(address: 10, values: [1])), .request(.writeMultipleRegisters(address: 11, values: [2, 3])),
            .request(.writeMultipleRegisters(address: 20, values: [9])), .request(.writeMultipleCoils(address: 4, values: [true, false])),
        ])
    }
}
