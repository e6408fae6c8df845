import Mapping
import Modbus

/// Commands, config and the writes they make, on the bus thread. A command is validated at once
/// and then carried out as a `PendingCommand`: its writes, then its read-backs, each step tried
/// again after a timeout (with the bus free for other devices in between) until its deadline.
extension BusPoller {
    /// How long a step that got no valid answer waits before its next attempt: the bus serves
    /// other devices' due polls meanwhile.
    static let writeRetryPause = Duration.milliseconds(100)

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

    /// Validates a command, or keeps a config; queues its writes behind the device's other
    /// commands and carries out what is due now. Every command is answered on `events/ack`.
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
        // A device that is never read is offline only by its writes: its commands are still tried.
        if agent.isOffline && !agent.profile.isWriteOnly {
            if isConfig {
                logger.log(.info, "config_kept", ["device": agent.id, "points": String(writes.count), "note": "applied when the device is back online"])
                return
            }
            refuse(CommandRefusal(id: message.id, "device offline: \(agent.lastError ?? "no answer")"), agent: agent, config: false)
            return
        }
        let names = Set(writes.map(\.name))
        let readBack = agent.profile.points.indices.filter { names.contains(agent.profile.points[$0].name) && agent.profile.points[$0].readBack }
        let now = ContinuousClock.now
        agent.commands.append(PendingCommand(message: message, reapplied: reapplied, writes: writes,
                                             readBack: agent.plan.readBackReads(of: readBack),
                                             deadline: message.deadline ?? agent.profile.writeDeadline,
                                             limits: agent.profile.limits, now: now))
        runCommands(of: agent, line: line)
    }

    /// Carries out `agent`'s commands in order while the first is due; stops at one that waits
    /// for its next attempt.
    func runCommands(of agent: DeviceAgent, line: BusLine) {
        guard !agent.commandsRunning else { return }
        agent.commandsRunning = true
        defer { agent.commandsRunning = false }
        while var command = agent.commands.first, command.nextAttempt <= .now {
            let finished = advance(&command, of: agent, line: line)
            // Carrying it out may have queued the desired state behind it (back online).
            agent.commands[0] = command
            guard finished else { return }
            agent.commands.removeFirst()
            finish(command, of: agent)
        }
    }

    /// The earliest next attempt of a waiting command, of every device.
    var nextCommandAttempt: ContinuousClock.Instant? {
        agents.compactMap { $0.commands.first?.nextAttempt }.min()
    }

    /// Runs the command's steps from where it is; true when it is finished (done or failed),
    /// false when a step waits for its next attempt.
    private func advance(_ command: inout PendingCommand, of agent: DeviceAgent, line: BusLine) -> Bool {
        while command.next < command.steps.count {
            command.transactions += 1
            let result: Result<ModbusResponse?, ModbusError> = switch command.steps[command.next] {
            case let .write(step, _): perform(step, unit: agent.unit, limits: agent.profile.limits, line: line).map { nil }
            case let .readBack(read): line.perform(read.request(limits: agent.profile.limits), unit: agent.unit).map { $0 }
            }
            switch result {
            case let .success(response):
                noteAnswer(agent, line: line)
                record(response, of: command.steps[command.next], in: &command, agent: agent)
                command.next += 1
            case let .failure(error):
                // An exception is the device's answer, and a refused request was never sent:
                // trying either again changes nothing.
                var final = error.isException
                if case .invalidRequest = error.kind { final = true }
                if error.isException { noteAnswer(agent, line: line) }
                if final {
                    command.ack.ok = false
                    command.ack.error = error.reason
                    if case let .exception(code) = error.kind { command.ack.exception = (code.rawValue, code.name) }
                    return true
                }
                noteFailure(agent, error, line: line)
                let retryAt = ContinuousClock.now + Self.writeRetryPause
                if retryAt < command.deadline {
                    command.retries += 1
                    command.nextAttempt = retryAt
                    return false
                }
                command.ack.ok = false
                command.ack.error = "\(error.reason); gave up after \(command.transactions) attempts (deadline \(command.deadlineLength.milliseconds) ms)"
                return true
            }
        }
        if !command.mismatches.isEmpty {
            command.ack.ok = false
            command.ack.error = command.mismatches.joined(separator: "; ")
        }
        return true
    }

    /// What a step's answer means for the ack: points written, or the values read back.
    private func record(_ response: ModbusResponse?, of step: PendingCommand.Step, in command: inout PendingCommand, agent: DeviceAgent) {
        switch step {
        case let .write(_, names):
            let now = ContinuousClock.now
            for name in names {
                command.ack.written.append((name, command.values[name] ?? .null))
                agent.lastWritten[name] = now
                agent.resetReport(of: name)
            }
        case let .readBack(read):
            guard let response else { return }
            for (index, reading) in agent.decode(response, for: read) {
                let point = agent.profile.points[index]
                command.ack.readBack.append((point.name, reading.published))
                if !command.holdsWritten(point, in: response, read: read) {
                    let asked = command.values[point.name]?.jsonText ?? "?"
                    command.mismatches.append("\(point.name): wrote \(asked), the device holds \(reading.published.jsonText) (read back)")
                }
            }
        }
    }

    /// Answers a finished command and has its written points read again at once, so that
    /// events show the new values.
    private func finish(_ command: PendingCommand, of agent: DeviceAgent) {
        var ack = command.ack
        if command.retries > 0 { ack.attempts = command.transactions }
        let writtenNames = Set(ack.written.map(\.0))
        let points = Set(agent.profile.points.indices.filter { writtenNames.contains(agent.profile.points[$0].name) })
        agent.plan.makeDue(points: points, at: .now)
        logger.log(ack.ok ? .info : .warning, command.isConfig ? "config_applied" : "command_written",
                   ["device": agent.id, "id": Self.logText(command.message.id), "written": ack.written.map(\.0).joined(separator: ","),
                    "attempts": String(command.transactions), "error": ack.error ?? ""])
        links?.acknowledged(agent.id, ok: ack.ok)
        agent.channel.publishAck(ack)
    }

    /// Commands still waiting when their device is no longer served: each is answered as failed.
    func abandonCommands(of agent: DeviceAgent, reason: String) {
        for command in agent.commands {
            var ack = command.ack
            ack.ok = false
            ack.error = "not done: \(reason)" + (command.transactions > 0 ? " (after \(command.transactions) attempts)" : "")
            if command.transactions > 0 { ack.attempts = command.transactions }
            logger.log(.warning, "command_abandoned",
                       ["device": agent.id, "id": Self.logText(command.message.id), "written": ack.written.map(\.0).joined(separator: ","),
                        "attempts": String(command.transactions), "error": ack.error ?? ""])
            links?.acknowledged(agent.id, ok: false)
            agent.channel.publishAck(ack)
        }
        agent.commands = []
    }

    private func refuse(_ refusal: CommandRefusal, agent: DeviceAgent, config: Bool) {
        logger.log(.warning, config ? "config_refused" : "command_refused", ["device": agent.id, "id": Self.logText(refusal.id), "error": refusal.message])
        links?.acknowledged(agent.id, ok: false)
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
