import Mapping
import Modbus
import MQTT
import POSIX
import Synchronization

/// Polls the devices of one bus and carries out their commands, on the bus's own thread (the
/// `BusDriver` of its `Bus`): each turn takes what other threads posted (devices, commands,
/// stop), then does the one poll group or probe due earliest. Writes of a command therefore go
/// ahead of any poll not yet started. Everything but `inbox` is touched by the bus thread only.
final class BusPoller: BusDriver, @unchecked Sendable {
    enum Action: Equatable {
        case poll(group: Int)
        case probe
    }

    private struct Inbox {
        var requests: [BusPollerRequest] = []
        /// Commands among `requests`, by device.
        var commands: [String: Int] = [:]
        var stopped = false
    }

    /// How often `state` is republished at most while values change.
    static let stateInterval = Duration.seconds(5)

    let busID: String
    /// How long a probe of a dead unit holds the bus: the silence before it and its response timeout.
    let probeLength: Duration
    /// Commands of one device that may wait in the inbox; more are dropped (as a local client's
    /// bounded stream dropped them before commands came by callback).
    let commandBacklogLimit: Int
    /// Where device events (found, online, offline, plan splits, refused commands) are logged.
    let logger: Logger
    /// The bus's frame trace, which a `$trace` command switches.
    let trace: FrameTrace?
    /// Where each device's link state goes for monitoring.
    let links: DeviceLinkBoard?
    private let inbox = Mutex(Inbox())
    // Confined to the bus thread (which makes the unchecked Sendable sound).
    var agents: [DeviceAgent] = []
    private var stopped = false
    /// The measured poll cycle beside the predicted one (`predictor` nil: Modbus TCP).
    var cycle: CycleMeter

    init(busID: String, probeLength: Duration, commandBacklogLimit: Int, links: DeviceLinkBoard? = nil,
         predictor: CyclePredictor? = nil, logger: Logger, trace: FrameTrace? = nil) {
        cycle = CycleMeter(predictor: predictor)
        self.busID = busID
        self.trace = trace
        self.logger = logger
        self.links = links
        self.probeLength = probeLength
        self.commandBacklogLimit = commandBacklogLimit
    }

    /// Hands a request to the bus thread (the caller then wakes the bus). After a stop, removals
    /// and stops are answered at once and the rest dropped: no device is served any more.
    /// False if it was a command dropped because `commandBacklogLimit` of its device wait already.
    @discardableResult
    func post(_ request: BusPollerRequest) -> Bool {
        enum Outcome { case queued, afterStop, backlogFull }
        let limit = commandBacklogLimit
        let outcome = inbox.withLock { inbox -> Outcome in
            guard !inbox.stopped else { return .afterStop }
            if case let .command(deviceID, _) = request {
                guard inbox.commands[deviceID, default: 0] < limit else { return .backlogFull }
                inbox.commands[deviceID, default: 0] += 1
            }
            inbox.requests.append(request)
            return .queued
        }
        if outcome == .afterStop { dismiss(request) }
        return outcome != .backlogFull
    }

    /// Everything posted so far, leaving the inbox empty.
    private func takeRequests() -> [BusPollerRequest] {
        inbox.withLock { inbox in
            defer {
                inbox.requests = []
                inbox.commands = [:]
            }
            return inbox.requests
        }
    }

    /// Answers a request that comes after the stop: a removal or stop is done already.
    private func dismiss(_ request: BusPollerRequest) {
        switch request {
        case let .remove(_, _, done), let .stop(_, done): done()
        case .add, .command: break
        }
    }

    // MARK: - One turn on the bus thread

    func run(on line: BusLine, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        for request in takeRequests() {
            if stopped { dismiss(request) } else { take(request, line: line) }
        }
        guard !stopped else { return nil }
        // Commands waiting for their next attempt go ahead of polls once it is due.
        for agent in agents where agent.commands.first.map({ $0.nextAttempt <= now }) == true { runCommands(of: agent, line: line) }
        if let next = nextAction(now: now), next.due <= now {
            switch next.action {
            case .poll: pollDueGroups(of: next.agent, dueBy: now, line: line)
            case .probe: probe(next.agent, line: line)
            }
        }
        publishStaleStates()
        let nextPoll = nextAction(now: .now)?.due
        guard let nextCommand = nextCommandAttempt else { return nextPoll }
        return min(nextPoll ?? nextCommand, nextCommand)
    }

    private func take(_ request: BusPollerRequest, line: BusLine) {
        switch request {
        case let .add(device, channel):
            agents.append(DeviceAgent(device: device, channel: channel, now: .now))
            links?.added(device.settings.id, bus: busID, unit: device.unit)
            cycle.devicesChanged()
        case let .remove(deviceID, reason, done):
            if let index = agents.firstIndex(where: { $0.id == deviceID }) { retire(agents.remove(at: index), reason: reason) }
            cycle.devicesChanged(removing: deviceID)
            done()
        case let .command(deviceID, message):
            if let agent = agents.first(where: { $0.id == deviceID }) { handle(message, for: agent, line: line) }
        case let .stop(reason, done):
            stopped = true
            inbox.withLock { $0.stopped = true }
            let left = takeRequests()
            for agent in agents { retire(agent, reason: reason) }
            agents = []
            // Requests that came in after this one are answered too.
            left.forEach(dismiss)
            done()
        }
    }

    private func retire(_ agent: DeviceAgent, reason: String) {
        abandonCommands(of: agent, reason: reason)
        agent.availability.retire(reason)
        links?.removed(agent.id)
        agent.channel.publishState(agent.stateFields())
        agent.channel.close()
    }

    /// The poll group or probe to do next, of every device, and when (`PollGrid.next` decides).
    private func nextAction(now: ContinuousClock.Instant) -> (agent: DeviceAgent, action: Action, due: ContinuousClock.Instant)? {
        var candidates: [(agent: DeviceAgent, action: Action)] = []
        var needs: [PollGrid.Need] = []
        for agent in agents {
            guard let candidate = agent.nextAction() else { continue }
            candidates.append((agent, candidate.action))
            var kind = PollGrid.Need.Kind.poll
            if case let .offline(_, backoff) = agent.availability.state { kind = .probe(longestWait: backoff) }
            needs.append(PollGrid.Need(kind: kind, due: candidate.due))
        }
        guard let (index, start) = PollGrid.next(of: needs, now: now, probeLength: probeLength) else { return nil }
        return (candidates[index].agent, candidates[index].action, start)
    }

    // MARK: - Polling

    /// Reads every group of `agent` due by `instant` and publishes what they report as one
    /// `events` document: a cycle's points together, whatever table they come from.
    private func pollDueGroups(of agent: DeviceAgent, dueBy instant: ContinuousClock.Instant, line: BusLine) {
        var reported: [DeviceAgent.Reported] = []
        reported.reserveCapacity(agent.profile.points.count)
        for index in agent.plan.groups.indices where agent.plan.groups[index].nextDue <= instant {
            if agent.isOffline { break }
            poll(agent, group: index, line: line, into: &reported)
        }
        // Back from offline every group was due: its values are fresh now, and `state` may go.
        if !agent.isOffline { agent.stateAwaitsFreshPoll = false }
        publish(reported, of: agent)
        cycle.update(agents, now: .now, bus: busID, links: links, logger: logger)
    }

    /// Reads one poll group and schedules its next cycle; appends the readings to publish.
    private func poll(_ agent: DeviceAgent, group index: Int, line: BusLine, into reported: inout [DeviceAgent.Reported]) {
        let group = agent.plan.groups[index]
        var completed = true
        let started = ContinuousClock.now
        // A round in which the device came online also ran its setup writes: not a poll round.
        let measuresRound = agent.availability.state == .online
        for read in group.reads {
            let result = line.perform(read.request(limits: agent.profile.limits), unit: agent.unit)
            let now = ContinuousClock.now
            switch result {
            case let .success(response):
                noteAnswer(agent, line: line)
                agent.accept(response, for: read, at: now, into: &reported)
            case let .failure(error):
                if case let .exception(code) = error.kind {
                    noteAnswer(agent, line: line)
                    if code == .illegalDataAddress && agent.plan.learnIllegalAddress(in: read) {
                        logger.log(.warning, "plan_split", ["device": agent.id, "read": "\(read.table.rawValue) \(read.read)",
                                                             "reason": code.description, "requests_per_cycle": String(agent.plan.requestsPerCycle)])
                        agent.plan.setNextDue(index, now)
                        cycle.devicesChanged()
                        completed = false
                        break
                    }
                    agent.fail(read, error: code.description, at: now, into: &reported)
                } else if case .invalidRequest = error.kind {
                    agent.fail(read, error: error.reason, at: now, into: &reported)
                } else {
                    // No answer: the points are published as errors, never as their old numbers.
                    agent.failUnanswered(read, reason: error.reason, at: now, into: &reported)
                    noteFailure(agent, error, line: line)
                    completed = false
                    break
                }
            }
            if !completed { break }
        }
        let now = ContinuousClock.now
        if completed {
            if measuresRound { cycle.record(started.duration(to: now), device: agent.id, group: index) }
            let current = agent.plan.groups[index].nextDue
            // The next grid instant after this read: late reads skip the missed cycles, no burst.
            let scheduled = PollGrid.nextCycle(due: group.nextDue, end: now, interval: group.interval)
            agent.plan.setNextDue(index, current == group.nextDue ? scheduled : min(current, scheduled))
        } else if !agent.isOffline, agent.plan.groups[index].nextDue == group.nextDue {
            agent.plan.setNextDue(index, PollGrid.nextCycle(due: group.nextDue, end: now, interval: group.interval))
        }
    }

    /// An offline device: one small read. An answer (even an exception) brings it back online.
    private func probe(_ agent: DeviceAgent, line: BusLine) {
        guard agent.isOffline else { return }
        // A device with nothing to read is never probed (`DeviceAgent.nextAction`).
        guard let read = agent.plan.groups.first?.reads.first else { return }
        let result = line.perform(read.request(limits: agent.profile.limits), unit: agent.unit)
        if case let .failure(error) = result, !error.isException {
            carryOut(agent.availability.probeFailed(error.description, at: .now), for: agent, error: error, line: line)
        } else {
            noteAnswer(agent, line: line)
        }
    }

    // MARK: - Availability

    /// The device answered: it is online (and if it was not, it gets its setup and desired state).
    func noteAnswer(_ agent: DeviceAgent, line: BusLine) {
        links?.answered(agent.id, at: .now)
        carryOut(agent.availability.answered(), for: agent, error: nil, line: line)
    }

    /// A transaction got no (valid) answer; enough of them in a row make the device offline.
    func noteFailure(_ agent: DeviceAgent, _ error: ModbusError, line: BusLine) {
        carryOut(agent.availability.failed(error.description, isLinkFailure: error.isLinkFailure, at: .now),
                 for: agent, error: error, line: line)
    }

    /// What the availability machine asked for, in its order. `error` is the failure that made it.
    private func carryOut(_ actions: [DeviceAvailabilityMachine.Action], for agent: DeviceAgent, error: ModbusError?, line: BusLine) {
        for action in actions {
            switch action {
            case .resetReports:
                agent.resetReports()
            case .readAllAgain:
                agent.plan.makeAllDue(at: .now)
                agent.stateAwaitsFreshPoll = !agent.plan.groups.isEmpty
            case let .cameOnline(afterOutage):
                links?.cameOnline(agent.id)
                logger.log(.info, afterOutage ? "device_online" : "device_found", ["device": agent.id, "bus": busID, "unit": String(agent.unit)])
            case .publishStateSoon:
                agent.stateIsUrgent = true
            case .runSetup:
                runSetup(agent, line: line)
            case .reapplyDesired:
                guard !agent.desired.isEmpty else { continue }
                var message = CommandMessage(kind: .config)
                message.values = agent.desired
                apply(message, to: agent, reapplied: true, line: line)
            case .wentOffline:
                links?.wentOffline(agent.id, error: error?.reason)
                agent.stateAwaitsFreshPoll = false
                logger.log(.warning, "device_offline", ["device": agent.id, "bus": busID, "unit": String(agent.unit), "error": error?.reason ?? ""])
                agent.channel.publishState(agent.stateFields())
                agent.lastStatePublished = .now
            case .probe:
                // `nextAction` reads the probe's instant from the machine's state.
                break
            }
        }
    }

    private func runSetup(_ agent: DeviceAgent, line: BusLine) {
        // One at a time, in the profile's order (a write plan would sort and join them).
        for setup in agent.profile.setup {
            let write: RegisterWrite = setup.table == .coil ? .coil(address: setup.address, value: setup.value != 0)
                                                            : .registers(address: setup.address, values: [setup.value])
            for (step, _) in WritePlan.steps(for: [NamedWrite(name: setup.description, write: write)], limits: agent.profile.limits) {
                if case let .failure(error) = perform(step, unit: agent.unit, limits: agent.profile.limits, line: line) {
                    logger.log(.error, "setup_write_failed", ["device": agent.id, "write": setup.description, "error": error.reason])
                }
            }
        }
    }

    // MARK: - Publishing

    private func publish(_ reported: [DeviceAgent.Reported], of agent: DeviceAgent) {
        guard !reported.isEmpty else { return }
        agent.channel.publishEvents(agent.eventsDocument(reported), subtopics: agent.eventSubtopics(reported))
    }

    private func publishStaleStates() {
        let now = ContinuousClock.now
        // A device not heard from yet has nothing to say: its first answer (a poll's, or a write's
        // for a device that is never read) or its going offline publishes the first state.
        for agent in agents where (agent.stateIsStale || agent.stateIsUrgent) && !agent.stateAwaitsFreshPoll
            && agent.availability.state != .unknown {
            if !agent.stateIsUrgent, let last = agent.lastStatePublished, last.duration(to: now) < Self.stateInterval { continue }
            agent.stateIsStale = false
            agent.stateIsUrgent = false
            agent.lastStatePublished = now
            agent.channel.publishState(agent.stateFields())
        }
    }
}
