import Modbus
import POSIX

/// A bus's measured poll cycle beside its predicted one, on the bus thread.
///
/// Measured as the prediction is made: the sum, over every poll group of every device, of how
/// long the group's last complete round held the line (its reads back to back, each with the
/// silence after it). Idle time between rounds is not in it, so the figure does not depend on
/// the intervals; a device offline keeps the round it last completed. Logged as `bus_cycle`
/// once every group has a round, then every minute; published on the `DeviceLinkBoard`.
struct CycleMeter {
    static let reportInterval = Duration.seconds(60)

    /// Nil on Modbus TCP: no prediction, the measurement is still made.
    let predictor: CyclePredictor?
    /// The last complete round of each group, by device and group index.
    private var rounds: [String: [Int: Duration]] = [:]
    private var predicted: CyclePredictor.Cycle?
    private var predictionStale = true
    private var lastReport: ContinuousClock.Instant?

    init(predictor: CyclePredictor?) {
        self.predictor = predictor
    }

    /// A group's round was read whole in `duration`.
    mutating func record(_ duration: Duration, device: String, group: Int) {
        rounds[device, default: [:]][group] = duration
    }

    /// A device came, went, or its plan changed: the prediction is made again.
    mutating func devicesChanged(removing device: String? = nil) {
        if let device { rounds.removeValue(forKey: device) }
        predictionStale = true
    }

    /// The sum of every group's last round; nil until every group has one.
    func measured(_ agents: [DeviceAgent]) -> Duration? {
        var total = Duration.zero
        for agent in agents {
            for index in agent.plan.groups.indices where !agent.plan.groups[index].reads.isEmpty {
                guard let round = rounds[agent.id]?[index] else { return nil }
                total += round
            }
        }
        return total
    }

    /// The predicted cycle of `agents`' groups (made again only after a change).
    mutating func prediction(_ agents: [DeviceAgent]) -> CyclePredictor.Cycle? {
        guard let predictor else { return nil }
        if predictionStale {
            predicted = predictor.cycle(agents.flatMap { BusCyclePlan.groups(deviceID: $0.id, unit: $0.unit, plan: $0.plan) })
            predictionStale = false
        }
        return predicted
    }

    /// Publishes the figures, and logs them when every group has a round and a minute has passed
    /// since the last line (the first line as soon as they do).
    mutating func update(_ agents: [DeviceAgent], now: ContinuousClock.Instant, bus: String, links: DeviceLinkBoard?, logger: Logger) {
        let measured = measured(agents)
        let predicted = prediction(agents)
        links?.cycle(bus: bus, DeviceLinkBoard.BusCycle(measured: measured, predicted: predicted?.duration))
        guard let measured else { return }
        if let lastReport, now < lastReport.advanced(by: Self.reportInterval) { return }
        lastReport = now
        var fields: [(String, String)] = [("bus", bus), ("measured_ms", BusCyclePlan.tenths(measured.inSeconds * 1000))]
        if let predicted {
            fields += [("predicted_ms", BusCyclePlan.tenths(predicted.duration.inSeconds * 1000)),
                       ("requests", String(predicted.requests)), ("utilisation_percent", BusCyclePlan.tenths(predicted.utilisation * 100))]
        }
        logger.log(.info, "bus_cycle", fields)
    }
}
