import Mapping
import Modbus

extension CheckCommand {
    /// Each bus's predicted poll cycle, for `--plan`: its line, devices, requests and bytes per
    /// cycle, the cycle time, the shortest interval, the utilisation, and a warning naming the
    /// groups polled late when the intervals cannot all be met. A warning does not change the
    /// exit status: the config is valid, the line is only too slow for it.
    static func cyclePlan(_ loaded: LoadedConfiguration) -> String {
        var text = ""
        for bus in loaded.config.buses {
            let devices = loaded.devices.filter { $0.bus.id == bus.id }
            text += "  bus \(bus.id): \(lineSummary(bus)), \(count(devices.count, "device"))"
            text += devices.isEmpty ? "\n" : " (\(devices.map(\.settings.id).joined(separator: ", ")))\n"
            guard let predictor = BusCyclePlan.predictor(for: bus) else {
                text += "      no cycle prediction on Modbus TCP: its time is the network's and the device's, not characters at a baud rate\n"
                continue
            }
            let groups = devices.flatMap { device in
                BusCyclePlan.groups(deviceID: device.settings.id, unit: device.unit, plan: PollPlan(profile: device.profile, start: .now))
            }
            guard let shortest = groups.map(\.interval).min() else { continue }
            let cycle = predictor.cycle(groups)
            text += "      cycle: \(count(cycle.requests, "request")), \(count(cycle.characters, "byte")) on the wire, "
            text += "predicted \(BusCyclePlan.milliseconds(cycle.duration)); shortest interval \(DurationText.format(shortest)), "
            text += "utilisation \(BusCyclePlan.percent(cycle.utilisation))\n"
            let late = cycle.lateGroups
            if !late.isEmpty {
                text += "      warning: the intervals cannot be met (utilisation above 100 %): "
                text += late.map { "\($0.group.label) (\(BusCyclePlan.milliseconds($0.duration)) a round)" }.joined(separator: ", ")
                text += " polled late, every \(BusCyclePlan.milliseconds(cycle.duration)) or so\n"
            }
        }
        return text
    }

    /// `/dev/ttyUSB0 9600 8E1 RTU, silence 4.0 ms`.
    private static func lineSummary(_ bus: BusSettings) -> String {
        let place: String
        switch bus.kind {
        case let .rtu(device, _): place = device
        case .simulator: place = "simulator"
        case let .tcp(host, port): return "Modbus TCP \(host):\(port)"
        case let .rtuOverTCP(host, port): return "RTU over TCP \(host):\(port) (no prediction: the network and the device server add their own times)"
        }
        guard let predictor = BusCyclePlan.predictor(for: bus) else { return place }
        let standardGap = predictor.framing == .rtu ? "t3.5" : "gap"
        let silence = bus.interFrameDelay == nil ? "\(standardGap) \(BusCyclePlan.milliseconds(predictor.silence))"
                                                 : "fixed silence \(BusCyclePlan.milliseconds(predictor.silence))"
        return "\(place) \(predictor.settings.summary) \(predictor.framing.rawValue.uppercased()), \(silence)"
    }
}
