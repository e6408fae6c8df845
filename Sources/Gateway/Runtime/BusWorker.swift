import Broker
import Mapping
import Modbus
import MQTT

/// Polls the devices of one bus and carries out their commands. The bus's own thread does the
/// blocking I/O; this actor decides what to ask next: the poll group or probe due earliest
/// (writes from commands go straight to the bus, which runs them ahead of queued reads).
actor BusWorker {
    enum Action: Equatable {
        case poll(group: Int)
        case probe
    }

    /// How often `state` is republished at most while values change.
    static let stateInterval = Duration.seconds(5)

    let settings: BusSettings
    private let bus: Bus
    private var agents: [DeviceAgent] = []
    private var loop: Task<Void, Never>?
    private var stopping = false
    private var wakeup: CheckedContinuation<Void, Never>?
    private var sleepGeneration = 0
    private var timer: Task<Void, Never>?

    init(settings: BusSettings, bus: Bus) {
        self.settings = settings
        self.bus = bus
    }

    /// The devices polled now, by id.
    var deviceIDs: [String] { agents.map(\.id) }

    /// Starts polling (devices may be added before or after).
    func start() {
        guard loop == nil else { return }
        loop = Task { await self.run() }
    }

    /// Adds a device: its first poll is due at once.
    func add(_ device: ResolvedDevice, link: DeviceLink) {
        let agent = DeviceAgent(device: device, link: link, now: .now)
        agents.append(agent)
        agent.commandTask = Task { [weak self] in
            for await message in link.messages {
                await self?.handle(message, for: device.settings.id)
            }
        }
        wake()
    }

    /// Stops polling a device; its `state` says it is no longer served.
    func remove(_ deviceID: String, reason: String) async {
        guard let index = agents.firstIndex(where: { $0.id == deviceID }) else { return }
        let agent = agents.remove(at: index)
        await retire(agent, reason: reason)
    }

    /// Stops polling, says so in every device's `state`, and closes the line.
    func stop(reason: String) async {
        stopping = true
        wake()
        await loop?.value
        for agent in agents { await retire(agent, reason: reason) }
        agents = []
        await bus.close()
    }

    private func retire(_ agent: DeviceAgent, reason: String) async {
        agent.commandTask?.cancel()
        agent.availability = .unknown
        agent.lastError = reason
        await agent.link.publishState(agent.stateFields())
        agent.link.disconnect()
    }

    // MARK: - The poll loop

    private func run() async {
        while !stopping {
            let now = ContinuousClock.now
            var next: (agent: DeviceAgent, action: Action, due: ContinuousClock.Instant)?
            for agent in agents {
                if let candidate = agent.nextAction(), next.map({ candidate.due < $0.due }) ?? true {
                    next = (agent, candidate.action, candidate.due)
                }
            }
            guard let next else {
                await sleep(until: now + .seconds(3600))
                continue
            }
            if next.due > now {
                await sleep(until: next.due)
                continue
            }
            switch next.action {
            case .poll: await pollDueGroups(of: next.agent, dueBy: now)
            case .probe: await probe(next.agent)
            }
            await publishStaleStates()
        }
    }

    /// Reads every group of `agent` due by `instant` and publishes what they report as one
    /// `events` document: a cycle's points together, whatever table they come from.
    private func pollDueGroups(of agent: DeviceAgent, dueBy instant: ContinuousClock.Instant) async {
        var reported: [(Point, PointReading)] = []
        for index in agent.plan.groups.indices where agent.plan.groups[index].nextDue <= instant {
            if stopping || agent.isOffline { break }
            reported += await poll(agent, group: index)
        }
        await publish(reported, of: agent)
    }

    /// Reads one poll group and schedules its next cycle; returns the readings to publish.
    private func poll(_ agent: DeviceAgent, group index: Int) async -> [(Point, PointReading)] {
        let group = agent.plan.groups[index]
        var reported: [(Point, PointReading)] = []
        var completed = true
        for read in group.reads {
            let result = await perform(read.request(limits: agent.profile.limits), unit: agent.unit)
            let now = ContinuousClock.now
            switch result {
            case let .success(response):
                await noteAnswer(agent)
                reported += agent.accept(response, for: read, at: now)
            case let .failure(error):
                if case let .exception(code) = error.kind {
                    await noteAnswer(agent)
                    if code == .illegalDataAddress && agent.plan.learnIllegalAddress(in: read) {
                        Output.log("warning", "plan_split", ["device": agent.id, "read": "\(read.table.rawValue) \(read.read)",
                                                             "reason": code.description, "requests_per_cycle": String(agent.plan.requestsPerCycle)])
                        agent.plan.setNextDue(index, now)
                        completed = false
                        break
                    }
                    reported += agent.fail(read, error: code.description, at: now)
                } else if case .invalidRequest = error.kind {
                    reported += agent.fail(read, error: error.reason, at: now)
                } else {
                    await noteFailure(agent, error)
                    completed = false
                    break
                }
            }
            if !completed || stopping { break }
        }
        let now = ContinuousClock.now
        if completed {
            let current = agent.plan.groups[index].nextDue
            var scheduled = group.nextDue + group.interval
            if scheduled <= now { scheduled = now + group.interval }  // late: skip the missed cycles, no burst
            agent.plan.setNextDue(index, current == group.nextDue ? scheduled : min(current, scheduled))
        } else if !completed, !agent.isOffline, agent.plan.groups[index].nextDue == group.nextDue {
            agent.plan.setNextDue(index, now + group.interval)
        }
        return reported
    }

    /// An offline device: one small read. An answer (even an exception) brings it back online.
    private func probe(_ agent: DeviceAgent) async {
        guard case let .offline(_, backoff) = agent.availability else { return }
        guard let read = agent.plan.groups.first?.reads.first else {
            await noteAnswer(agent)
            return
        }
        let result = await perform(read.request(limits: agent.profile.limits), unit: agent.unit)
        if case let .failure(error) = result, !error.isException {
            let next = min(backoff * 2, DeviceAgent.longestProbeDelay)
            agent.availability = .offline(nextProbe: .now + next, backoff: next)
            agent.lastError = error.description
        } else {
            await noteAnswer(agent)
        }
    }

    // MARK: - Availability

    /// The device answered: it is online (and if it was not, it gets its setup and desired state).
    private func noteAnswer(_ agent: DeviceAgent) async {
        agent.consecutiveFailures = 0
        guard agent.availability != .online else { return }
        let wasOffline = agent.isOffline
        agent.availability = .online
        agent.lastError = nil
        agent.resetReports()
        // Back from offline, everything is read again at once. A device heard for the first time
        // is in its first poll, with every group already due from the start.
        if wasOffline { agent.plan.makeAllDue(at: .now) }
        Output.log("info", wasOffline ? "device_online" : "device_found", ["device": agent.id, "bus": settings.id, "unit": String(agent.unit)])
        agent.stateIsUrgent = true
        await runSetup(agent)
        if !agent.desired.isEmpty {
            var message = CommandMessage(kind: .config)
            message.values = agent.desired
            await apply(message, to: agent, reapplied: true)
        }
    }

    /// A transaction got no (valid) answer; enough of them in a row make the device offline.
    private func noteFailure(_ agent: DeviceAgent, _ error: ModbusError) async {
        agent.consecutiveFailures += 1
        agent.lastError = error.description
        guard !agent.isOffline, agent.consecutiveFailures >= DeviceAgent.failuresBeforeOffline || error.isLinkFailure else { return }
        agent.availability = .offline(nextProbe: .now + DeviceAgent.firstProbeDelay, backoff: DeviceAgent.firstProbeDelay)
        Output.log("warning", "device_offline", ["device": agent.id, "bus": settings.id, "unit": String(agent.unit), "error": error.reason])
        await agent.link.publishState(agent.stateFields())
        agent.lastStatePublished = .now
    }

    private func runSetup(_ agent: DeviceAgent) async {
        // One at a time, in the profile's order (a write plan would sort and join them).
        for setup in agent.profile.setup {
            let write: RegisterWrite = setup.table == .coil ? .coil(address: setup.address, value: setup.value != 0)
                                                            : .registers(address: setup.address, values: [setup.value])
            for (step, _) in WritePlan.steps(for: [NamedWrite(name: setup.description, write: write)], limits: agent.profile.limits) {
                if case let .failure(error) = await perform(step, unit: agent.unit, limits: agent.profile.limits) {
                    Output.log("error", "setup_write_failed", ["device": agent.id, "write": setup.description, "error": error.reason])
                }
            }
        }
    }

    // MARK: - Publishing

    private func publish(_ reported: [(Point, PointReading)], of agent: DeviceAgent) async {
        guard !reported.isEmpty else { return }
        let fields = reported.map { ($0.0.name, $0.1.published) }
        let subtopics = reported.filter(\.0.subtopic).map { ($0.0.name, $0.1.published) }
        await agent.link.publishEvents(fields, subtopics: subtopics)
    }

    private func publishStaleStates() async {
        let now = ContinuousClock.now
        for agent in agents where agent.stateIsStale || agent.stateIsUrgent {
            if !agent.stateIsUrgent, let last = agent.lastStatePublished, last.duration(to: now) < Self.stateInterval { continue }
            agent.stateIsStale = false
            agent.stateIsUrgent = false
            agent.lastStatePublished = now
            await agent.link.publishState(agent.stateFields())
        }
    }

    // MARK: - Commands

    private func handle(_ message: Publish, for deviceID: String) async {
        guard let agent = agents.first(where: { $0.id == deviceID }) else { return }
        switch CommandMessage.parse(topic: message.topic, payload: message.payload) {
        case let .failure(refusal):
            await refuse(refusal, agent: agent, config: message.topic.hasSuffix("/config"))
        case let .success(command):
            await apply(command, to: agent, reapplied: false)
        }
    }

    /// Validates and writes a command, or keeps and writes a config; answers on `events/ack`.
    private func apply(_ message: CommandMessage, to agent: DeviceAgent, reapplied: Bool) async {
        let isConfig = message.kind == .config
        let writes: [NamedWrite]
        switch agent.writes(for: message, at: .now) {
        case let .failure(refusal):
            await refuse(refusal, agent: agent, config: isConfig)
            return
        case let .success(valid):
            writes = valid
        }
        if isConfig && !reapplied { agent.desired = message.values }
        if agent.isOffline {
            if isConfig {
                Output.log("info", "config_kept", ["device": agent.id, "points": String(writes.count), "note": "applied when the device is back online"])
                return
            }
            await refuse(CommandRefusal(id: message.id, "device offline: \(agent.lastError ?? "no answer")"), agent: agent, config: false)
            return
        }
        var ack = CommandAck(id: message.id, ok: true, config: isConfig)
        let values = Dictionary(message.values.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        for (step, names) in WritePlan.steps(for: writes, limits: agent.profile.limits) {
            if case let .failure(error) = await perform(step, unit: agent.unit, limits: agent.profile.limits) {
                ack.ok = false
                ack.error = error.reason
                if case let .exception(code) = error.kind {
                    ack.exception = (code.rawValue, code.name)
                } else {
                    await noteFailure(agent, error)
                }
                break
            }
            let now = ContinuousClock.now
            for name in names {
                ack.written.append((name, values[name] ?? .null))
                agent.lastWritten[name] = now
                agent.filters[name]?.reset()
            }
        }
        let writtenNames = Set(ack.written.map(\.0))
        let points = Set(agent.profile.points.indices.filter { writtenNames.contains(agent.profile.points[$0].name) })
        agent.plan.makeDue(points: points, at: .now)
        wake()
        Output.log(ack.ok ? "info" : "warning", isConfig ? "config_applied" : "command_written",
                   ["device": agent.id, "id": Self.logText(message.id), "written": ack.written.map(\.0).joined(separator: ","),
                    "error": ack.error ?? ""])
        await agent.link.publishAck(ack)
    }

    private func refuse(_ refusal: CommandRefusal, agent: DeviceAgent, config: Bool) async {
        Output.log("warning", config ? "config_refused" : "command_refused", ["device": agent.id, "id": Self.logText(refusal.id), "error": refusal.message])
        await agent.link.publishAck(CommandAck(id: refusal.id, ok: false, error: refusal.message, config: config))
    }

    /// A request id as a log field: a string as it is, anything else as JSON.
    private static func logText(_ id: JSONValue) -> String {
        if case let .string(text) = id { return text }
        return id.jsonText
    }

    // MARK: - The bus

    private func perform(_ step: WriteStep, unit: UInt8, limits: DeviceLimits) async -> Result<Void, ModbusError> {
        switch step {
        case let .request(request):
            return await perform(request, unit: unit).map { _ in () }
        case let .setBit(address, bit, value):
            let current: UInt16
            switch await perform(.readHoldingRegisters(address: address, count: 1), unit: unit) {
            case let .success(response):
                guard let register = response.registers?.first else { return .success(()) }
                current = register
            case let .failure(error):
                return .failure(error)
            }
            let mask = UInt16(1) << UInt16(bit)
            let updated = value ? current | mask : current & ~mask
            let write = WritePlan.registerRequests(address: Int(address), values: [updated], limits: limits)[0]
            return await perform(write, unit: unit).map { _ in () }
        }
    }

    private func perform(_ request: ModbusRequest, unit: UInt8) async -> Result<ModbusResponse, ModbusError> {
        do {
            return .success(try await bus.perform(request, unit: unit))
        } catch {
            return .failure(error)
        }
    }

    // MARK: - Sleeping until the next poll, or until woken

    private func sleep(until deadline: ContinuousClock.Instant) async {
        sleepGeneration += 1
        let generation = sleepGeneration
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            wakeup = continuation
            timer = Task { [weak self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                await self?.wake(generation: generation)
            }
        }
    }

    /// Ends the current sleep (a command made a poll due, a device was added, or stop).
    private func wake(generation: Int? = nil) {
        if let generation, generation != sleepGeneration { return }
        timer?.cancel()
        timer = nil
        wakeup?.resume()
        wakeup = nil
    }
}
