import Mapping
import Modbus

/// Commands, config and the writes they make, on the bus thread.
extension BusPoller {
    func handle(_ input: DeviceInput, for agent: DeviceAgent, line: BusLine) {
        if case let .devicePoint(_, point) = input.topic, point == TraceCommand.point {
            switchTrace(input.payload, for: agent)
            return
        }
        switch CommandMessage.parse(topic: input.topic, payload: input.payload) {
        case let .failure(refusal):
            refuse(refusal, agent: agent, config: input.topic.isConfig)
        case let .success(command):
            apply(command, to: agent, reapplied: false, line: line)
        }
    }

    /// Validates and writes a command, or keeps and writes a config; answers on `events/ack`.
    func apply(_ message: CommandMessage, to agent: DeviceAgent, reapplied: Bool, line: BusLine) {
        let isConfig = message.kind == .config
        let writes: [NamedWrite]
        switch agent.writes(for: message, at: .now) {
        case let .failure(refusal):
            refuse(refusal, agent: agent, config: isConfig)
            return
        case let .success(valid):
            writes = valid
        }
        if isConfig && !reapplied { agent.desired = message.values }
        if agent.isOffline {
            if isConfig {
                logger.log(.info, "config_kept", ["device": agent.id, "points": String(writes.count), "note": "applied when the device is back online"])
                return
            }
            refuse(CommandRefusal(id: message.id, "device offline: \(agent.lastError ?? "no answer")"), agent: agent, config: false)
            return
        }
        var ack = CommandAck(id: message.id, ok: true, config: isConfig)
        let values = Dictionary(message.values.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        for (step, names) in WritePlan.steps(for: writes, limits: agent.profile.limits) {
            if case let .failure(error) = perform(step, unit: agent.unit, limits: agent.profile.limits, line: line) {
                ack.ok = false
                ack.error = error.reason
                if case let .exception(code) = error.kind {
                    ack.exception = (code.rawValue, code.name)
                } else {
                    noteFailure(agent, error, line: line)
                }
                break
            }
            let now = ContinuousClock.now
            for name in names {
                ack.written.append((name, values[name] ?? .null))
                agent.lastWritten[name] = now
                agent.resetReport(of: name)
            }
        }
        // The written points are read again at once, so that events show the new values.
        let writtenNames = Set(ack.written.map(\.0))
        let points = Set(agent.profile.points.indices.filter { writtenNames.contains(agent.profile.points[$0].name) })
        agent.plan.makeDue(points: points, at: .now)
        logger.log(ack.ok ? .info : .warning, isConfig ? "config_applied" : "command_written",
                   ["device": agent.id, "id": Self.logText(message.id), "written": ack.written.map(\.0).joined(separator: ","),
                    "error": ack.error ?? ""])
        agent.channel.publishAck(ack)
    }

    private func refuse(_ refusal: CommandRefusal, agent: DeviceAgent, config: Bool) {
        logger.log(.warning, config ? "config_refused" : "command_refused", ["device": agent.id, "id": Self.logText(refusal.id), "error": refusal.message])
        agent.channel.publishAck(CommandAck(id: refusal.id, ok: false, error: refusal.message, config: config))
    }

    /// A request id as a log field: a string as it is, anything else as JSON.
    private static func logText(_ id: JSONValue) -> String {
        if case let .string(text) = id { return text }
        return id.jsonText
    }

    /// One step of a write plan: a request, or a read-modify-write of one bit of a register.
    func perform(_ step: WriteStep, unit: UInt8, limits: DeviceLimits, line: BusLine) -> Result<Void, ModbusError> {
        switch step {
        case let .request(request):
            return line.perform(request, unit: unit).map { _ in () }
        case let .setBit(address, bit, value):
            let current: UInt16
            switch line.perform(.readHoldingRegisters(address: address, count: 1), unit: unit) {
            case let .success(response):
                guard let register = response.registers?.first else { return .success(()) }
                current = register
            case let .failure(error):
                return .failure(error)
            }
            let mask = UInt16(1) << UInt16(bit)
            let updated = value ? current | mask : current & ~mask
            let write = WritePlan.registerRequests(address: Int(address), values: [updated], limits: limits)[0]
            return line.perform(write, unit: unit).map { _ in () }
        }
    }
}
