import Mapping
import Modbus

/// One configured controller on a bus: its plan, latest readings, report filters, availability
/// and desired state. Owned by its bus's `BusPoller`, on the bus thread; nothing here blocks.
final class DeviceAgent {
    let device: ResolvedDevice
    let channel: any DeviceChannel
    var plan: PollPlan
    var readings: DeviceReadings
    /// Report filters, by point index.
    var filters: [ReportFilter]
    /// Whether it answers, with the last failure (`DeviceAvailabilityMachine` decides).
    var availability = DeviceAvailabilityMachine()
    /// Desired values from the `config` topic, already validated, by point name.
    var desired: [(name: String, value: JSONValue)] = []
    /// When each point was last written (for `minWriteInterval`).
    var lastWritten: [String: ContinuousClock.Instant] = [:]
    /// Readings changed since `state` was last published.
    var stateIsStale = true
    /// `state` is to be published after the current poll, not after `stateInterval`: the device
    /// came online, or a point was read for the first time.
    var stateIsUrgent = false
    var lastStatePublished: ContinuousClock.Instant?
    /// Back online after an outage: `state` waits for the first poll of every group, so that it
    /// never says online with the values from before the device went away.
    var stateAwaitsFreshPoll = false
    /// Per point: why its last read got no answer (timeout, CRC, line), nil once it is read again.
    var readFailure: [String?]
    /// Per point: its last good value and when it was read (Unix milliseconds), for `state.stale`.
    var lastGood: [(value: JSONValue, at: Int64)?]
    /// Commands taken and not yet answered, in order; the first may wait for its next attempt.
    /// The device's polls wait for them (its commands go ahead of its polls).
    var commands: [PendingCommand] = []
    /// The bus poller is carrying out `commands` now (a command that brings the device back
    /// online queues the desired state behind itself instead of running it inside).
    var commandsRunning = false

    /// `"name":` of each point, by index: its member's start in an `events` document, escaped once.
    private let eventMembers: [[UInt8]]
    /// Whether each point is also published on `events/<name>`, by index.
    private let hasSubtopic: [Bool]

    var id: String { device.settings.id }
    var unit: UInt8 { device.unit }
    var profile: DeviceProfile { device.profile }

    init(device: ResolvedDevice, channel: any DeviceChannel, now: ContinuousClock.Instant) {
        self.device = device
        self.channel = channel
        self.plan = PollPlan(profile: device.profile, start: now)
        self.readings = DeviceReadings(profile: device.profile)
        self.filters = device.profile.points.map { ReportFilter(rule: $0.report) }
        self.readFailure = Array(repeating: nil, count: device.profile.points.count)
        self.lastGood = Array(repeating: nil, count: device.profile.points.count)
        self.eventMembers = device.profile.points.map { JSONValue.memberPrefix($0.name) }
        self.hasSubtopic = device.profile.points.map(\.subtopic)
    }

    var isOffline: Bool { availability.isOffline }
    var lastError: String? { availability.lastError }

    /// What the device needs next and when: its earliest poll group, or its next probe. Nothing
    /// while a command is pending (it goes first), nor for a device that is never read.
    func nextAction() -> (action: BusPoller.Action, due: ContinuousClock.Instant)? {
        if !commands.isEmpty || profile.isWriteOnly { return nil }
        if let nextProbe = availability.nextProbe { return (.probe, nextProbe) }
        guard let index = plan.groups.indices.min(by: { plan.groups[$0].nextDue < plan.groups[$1].nextDue }) else { return nil }
        return (.poll(group: index), plan.groups[index].nextDue)
    }

    /// A point's index (into `profile.points`) with its reading, as a cycle reports it.
    typealias Reported = (index: Int, reading: PointReading)

    /// Decodes the reading of each point in `read` from the answer; appends to `reported` the
    /// ones its report rule publishes.
    func accept(_ response: ModbusResponse, for read: PlannedRead, at now: ContinuousClock.Instant, into reported: inout [Reported]) {
        if read.points.contains(where: { readings.reading(at: $0) == nil }) { stateIsUrgent = true }
        admit(decode(response, for: read), at: now, into: &reported)
    }

    /// The readings of `read`'s points in `response`, recorded as the latest (and as the last
    /// good value of each point that has one), without passing the report filters.
    func decode(_ response: ModbusResponse, for read: PlannedRead) -> [Reported] {
        let decoded: [Reported] = switch response {
        case let .registers(values): readings.decode(read.points, registers: values, start: read.read.address)
        case let .bits(values): readings.decode(read.points, bits: values, start: read.read.address)
        case .written: []
        }
        let now = Timestamp.nowMilliseconds()
        for (index, reading) in decoded {
            readFailure[index] = nil
            if case let .value(value) = reading { lastGood[index] = (value, now) }
        }
        if !decoded.isEmpty { stateIsStale = true }
        return decoded
    }

    /// The device did not answer `read` (timeout, CRC, line): its points are reported as
    /// `{"error": reason}` (once per streak, by their report filters) and are stale in `state`.
    func failUnanswered(_ read: PlannedRead, reason: String, at now: ContinuousClock.Instant, into reported: inout [Reported]) {
        for index in read.points { readFailure[index] = reason }
        admit(read.points.map { (index: $0, reading: PointReading.error(reason)) }, at: now, into: &reported)
    }

    /// Every point of `read` reads as `error` (the device answered the read with an exception).
    func fail(_ read: PlannedRead, error: String, at now: ContinuousClock.Instant, into reported: inout [Reported]) {
        let failed = read.points.map { (index: $0, reading: PointReading.error(error)) }
        for (index, reading) in failed {
            readings.record(reading, at: index)
            readFailure[index] = nil
        }
        admit(failed, at: now, into: &reported)
    }

    private func admit(_ decoded: [Reported], at now: ContinuousClock.Instant, into reported: inout [Reported]) {
        if !decoded.isEmpty { stateIsStale = true }
        Self.admit(decoded, through: &filters, at: now, into: &reported)
    }

    /// The filters taken as one `inout` access for the whole answer, not one per point.
    private static func admit(_ decoded: [Reported], through filters: inout [ReportFilter], at now: ContinuousClock.Instant,
                              into reported: inout [Reported]) {
        for item in decoded where filters[item.index].admit(item.reading, at: now) { reported.append(item) }
    }

    /// Publishing resumes from scratch: every point is reported at its next read.
    func resetReports() {
        for index in filters.indices { filters[index].reset() }
    }

    /// The point called `name` is reported at its next read, whatever its value.
    func resetReport(of name: String) {
        if let index = profile.points.firstIndex(where: { $0.name == name }) { filters[index].reset() }
    }

    /// The `events` document of one cycle: the points reported, in the order they were read, and `ts`.
    func eventsDocument(_ reported: [Reported]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(40 + reported.count * 32)
        bytes.append(UInt8(ascii: "{"))
        for (index, reading) in reported {
            bytes += eventMembers[index]
            reading.published.appendJSON(to: &bytes)
            bytes.append(UInt8(ascii: ","))
        }
        bytes += #""ts":""#.utf8
        Timestamp.appendNow(to: &bytes)
        bytes += #""}"#.utf8
        return bytes
    }

    /// The reported points that also go out on `events/<name>`, with their values.
    func eventSubtopics(_ reported: [Reported]) -> [(String, JSONValue)] {
        reported.filter { hasSubtopic[$0.index] }.map { (profile.points[$0.index].name, $0.reading.published) }
    }

    /// Validates a command's or config's values into writes; the first refusal ends it.
    func writes(for message: CommandMessage, at now: ContinuousClock.Instant) -> Result<[NamedWrite], CommandRefusal> {
        var writes: [NamedWrite] = []
        var registersTaken: [PointTable: Set<Int>] = [:]
        for (name, value) in message.values {
            let write: RegisterWrite
            let table: PointTable
            do throws(MappingError) {
                if let point = profile.point(named: name) {
                    if let interval = point.minimumWriteInterval, let last = lastWritten[name], last.duration(to: now) < interval {
                        return .failure(CommandRefusal(id: message.id, "\(name) was written less than \(interval.milliseconds) ms ago (minWriteInterval)"))
                    }
                    write = try PointEncoder.encode(value, for: point, decimals: readings.decimals(for: point))
                    table = point.table
                } else if let command = profile.command(named: name), message.kind == .command {
                    write = try PointEncoder.encode(value, for: command)
                    table = command.table
                } else {
                    let known = profile.points.filter(\.access.isWritable).map(\.name) + (message.kind == .command ? profile.commands.map(\.name) : [])
                    return .failure(CommandRefusal(id: message.id, "unknown point \"\(name)\"; writable: \(known.joined(separator: ", "))"))
                }
            } catch {
                return .failure(CommandRefusal(id: message.id, error.message))
            }
            let span: Range<Int> = switch write {
            case let .registers(address, values): address..<address + values.count
            case let .coil(address, _), let .registerBit(address, _, _): address..<address + 1
            }
            if let clash = span.first(where: { registersTaken[table, default: []].contains($0) }) {
                return .failure(CommandRefusal(id: message.id, "two values in one request write \(table.rawValue) \(clash)"))
            }
            registersTaken[table, default: []].formUnion(span)
            writes.append(NamedWrite(name: name, write: write))
        }
        return .success(writes)
    }
}
