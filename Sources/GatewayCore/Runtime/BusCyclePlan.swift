import Mapping
import Modbus
import Serial

/// A bus's poll cycle as `CyclePredictor` sees it: every poll group of every device once.
/// `check --plan` prints it; the bus thread compares it with the cycle it measures.
package enum BusCyclePlan {
    /// The line a bus's settings describe, as far as the prediction needs it (a simulator bus is
    /// its serial line on a pty); nil for Modbus TCP and RTU over TCP, whose network and device
    /// server add times no character count predicts.
    package static func predictor(for settings: BusSettings) -> CyclePredictor? {
        let line: BusSettings.SerialLine
        switch settings.kind {
        case let .rtu(_, serial), let .simulator(_, serial): line = serial
        case .tcp, .rtuOverTCP: return nil
        }
        let configuration = BusConfiguration(target: .rtu(path: "", settings: GatewayRuntime.serialSettings(line)),
                                             framing: LineFraming(rawValue: line.framing) ?? .rtu,
                                             silence: settings.interFrameDelay.map(InterFrameSilence.fixed) ?? .standard)
        return CyclePredictor(configuration: configuration)
    }

    /// A device's poll groups, in plan order, each with the requests its plan makes now.
    package static func groups(deviceID: String, unit: UInt8, plan: PollPlan) -> [CyclePredictor.PolledGroup] {
        let limits = plan.profile.limits
        return plan.groups.map { group in
            CyclePredictor.PolledGroup(label: "\(deviceID) \(group.table.rawValue) every \(DurationText.format(group.interval))",
                                       unit: unit, interval: group.interval,
                                       requests: group.reads.map { $0.request(limits: limits) },
                                       turnaround: limits.turnaround ?? CyclePredictor.defaultTurnaround)
        }
    }

    /// `12.3 ms`: a duration in milliseconds with one decimal, for plans.
    package static func milliseconds(_ duration: Duration) -> String {
        tenths(duration.inSeconds * 1000) + " ms"
    }

    /// `42.5 %`.
    package static func percent(_ ratio: Double) -> String {
        tenths(ratio * 100) + " %"
    }

    /// `12.3`: a non-negative number with one decimal.
    static func tenths(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
