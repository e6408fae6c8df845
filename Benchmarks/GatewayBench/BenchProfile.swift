import Foundation
import Modbus

/// The controller the latency and load runs poll: 30 points of a typical two-loop controller in
/// three tables (10 holding, 12 input, 8 discrete), which the planner reads in 3 requests.
enum BenchProfile {
    static let model = "bench-controller"
    static let pointCount = 30
    static let requestsPerCycle = 3

    /// The profile, every point read each `interval`; `onChange: false` publishes every point at
    /// every read, `true` only those whose value changed.
    static func json(interval: String, onChange: Bool) -> String {
        var points: [String] = []
        for index in 0..<8 {
            points.append(#"{ "name": "set_point_\#(index + 1)", "table": "holding", "address": \#(index), "type": "int16", "scale": 0.1, "access": "readwrite", "min": 0, "max": 300 }"#)
        }
        for index in 0..<2 {
            points.append(#"{ "name": "mode_\#(index + 1)", "table": "holding", "address": \#(8 + index), "type": "enum", "access": "readwrite", "labels": { "0": "off", "1": "heat", "2": "cool" } }"#)
        }
        for index in 0..<8 {
            points.append(#"{ "name": "temperature_\#(index + 1)", "table": "input", "address": \#(index), "type": "int16", "scale": 0.1, "sentinels": [{ "raw": "0x8003", "error": "sensor open" }] }"#)
        }
        points.append(#"{ "name": "power_1", "table": "input", "address": 8, "type": "float32", "order": "abcd" }"#)
        points.append(#"{ "name": "power_2", "table": "input", "address": 10, "type": "float32", "order": "abcd" }"#)
        points.append(#"{ "name": "energy", "table": "input", "address": 12, "type": "uint32", "order": "abcd" }"#)
        points.append(#"{ "name": "status", "table": "input", "address": 14, "type": "flags", "flags": { "0": "running", "1": "heating", "2": "alarm" } }"#)
        for index in 0..<8 {
            points.append(#"{ "name": "alarm_\#(index + 1)", "table": "discrete", "address": \#(index), "type": "bool" }"#)
        }
        precondition(points.count == pointCount)
        return """
        { "model": "\(model)", "vendor": "modbridge", "description": "Benchmark controller: 30 points in three tables.",
          "defaults": { "interval": "\(interval)", "report": { "onChange": \(onChange) } },
          "points": [
            \(points.joined(separator: ",\n    "))
          ] }
        """
    }

    /// Registers a running controller would hold: set points, modes, temperatures, powers, energy, status, alarms.
    static func fill(_ controller: SimulatedController, seed: Int) {
        controller.setRegisters(.holdingRegisters, address: 0, (0..<8).map { UInt16(600 + 10 * $0 + seed % 7) } + [1, 2])
        var input = (0..<8).map { UInt16(580 + 9 * $0 + seed % 5) }
        for power in [Float(12.5 + Float(seed % 3)), 3.75] {
            input += [UInt16(power.bitPattern >> 16), UInt16(power.bitPattern & 0xFFFF)]
        }
        let energy = UInt32(123_456 + seed)
        input += [UInt16(energy >> 16), UInt16(energy & 0xFFFF), 0b011]
        controller.setRegisters(.inputRegisters, address: 0, input)
        controller.setBits(.discreteInputs, address: 0, (0..<8).map { ($0 + seed) % 3 == 0 })
    }
}
