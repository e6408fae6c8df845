import Mapping
import Modbus

/// One read request of a poll group and the points it answers.
package struct PlannedRead {
    package let table: PointTable
    package let read: ReadPlanner.Read
    /// Indices into the profile's points.
    package let points: [Int]

    /// The request that reads it from a device with `limits` (some read coils with FC02).
    package func request(limits: DeviceLimits) -> ModbusRequest {
        let address = UInt16(read.address)
        switch table {
        case .holding: return .readHoldingRegisters(address: address, count: read.count)
        case .input: return .readInputRegisters(address: address, count: read.count)
        case .discrete: return .readDiscreteInputs(address: address, count: read.count)
        case .coil:
            return limits.coilReadFunction == 2 ? .readDiscreteInputs(address: address, count: read.count)
                                                : .readCoils(address: address, count: read.count)
        }
    }
}

/// The points of one device read together: same table, same interval.
package struct PollGroup {
    package let table: PointTable
    package let interval: Duration
    package var points: [Int]
    package var reads: [PlannedRead] = []
    package var nextDue: ContinuousClock.Instant
}

/// A device's poll groups and their requests, planned for the fewest requests per cycle. The
/// profile's `holes` are boundaries from the start; a merged read that the device refuses with
/// exception 02 (illegal data address) teaches the plan another, and the group is planned again
/// without crossing it.
package struct PollPlan {
    package let profile: DeviceProfile
    package private(set) var groups: [PollGroup]
    /// Addresses no read may span, per table: the edges of the profile's holes, and those learned
    /// from exception 02.
    private(set) var boundaries: [PointTable: Set<Int>] = [:]

    package init(profile: DeviceProfile, start: ContinuousClock.Instant) {
        self.profile = profile
        for hole in profile.holes {
            // No read may hold both the address before the hole and its first one, nor its last
            // and the one after; reads start at points, none of which is in a hole.
            boundaries[hole.table, default: []].formUnion([hole.addresses.lowerBound, hole.addresses.upperBound + 1])
        }
        var groups: [PollGroup] = []
        for (index, point) in profile.points.enumerated() where point.access.isReadable && !profile.writeOnly {
            if let existing = groups.firstIndex(where: { $0.table == point.table && $0.interval == point.interval }) {
                groups[existing].points.append(index)
            } else {
                groups.append(PollGroup(table: point.table, interval: point.interval, points: [index], nextDue: start))
            }
        }
        self.groups = groups
        for index in groups.indices { replan(index) }
    }

    /// The planner for a table, with this device's limits and learned boundaries.
    private func planner(for table: PointTable) -> ReadPlanner {
        let limits = profile.limits
        return ReadPlanner(maximumCount: table.holdsBits ? limits.maxBitsPerRead : limits.maxRegistersPerRead,
                           maximumGap: table.holdsBits ? limits.maxBitGap : limits.maxGap,
                           boundaries: boundaries[table] ?? [])
    }

    /// Requests per cycle of every group, as if all were due at once (for `check` and logs).
    package var requestsPerCycle: Int { groups.reduce(0) { $0 + $1.reads.count } }

    mutating func setNextDue(_ group: Int, _ instant: ContinuousClock.Instant) {
        groups[group].nextDue = instant
    }

    /// Every group due at `instant` (when the device comes back online).
    mutating func makeAllDue(at instant: ContinuousClock.Instant) {
        for index in groups.indices { groups[index].nextDue = instant }
    }

    /// Makes the groups holding any of `points` due at `instant`.
    mutating func makeDue(points: Set<Int>, at instant: ContinuousClock.Instant) {
        for index in groups.indices where groups[index].points.contains(where: points.contains) {
            groups[index].nextDue = min(groups[index].nextDue, instant)
        }
    }

    /// The device refused `read` with exception 02. If the read spans more than one point's
    /// registers, learns boundaries that split it (at every gap, or else between its points) and
    /// returns true: the group is replanned and the points read again. False for a single point
    /// whose own address is refused: that is the profile's (or device's) error to report.
    package mutating func learnIllegalAddress(in read: PlannedRead) -> Bool {
        let ranges = ReadPlanner.union(read.points.map { profile.points[$0].addresses })
        var cuts = Set<Int>()
        if ranges.count > 1 {
            for range in ranges {
                cuts.insert(range.lowerBound)
                cuts.insert(range.upperBound)
            }
        } else {
            for index in read.points { cuts.insert(profile.points[index].address) }
        }
        cuts = cuts.filter { $0 > read.read.address && $0 < read.read.addresses.upperBound }
        guard !cuts.isEmpty else { return false }
        boundaries[read.table, default: []].formUnion(cuts)
        for index in groups.indices where groups[index].table == read.table { replan(index) }
        return true
    }

    /// The reads that read back the points at `indices` after a write (fewest requests, holes and
    /// learned boundaries respected), whatever their access and interval.
    func readBackReads(of indices: [Int]) -> [PlannedRead] {
        var reads: [PlannedRead] = []
        for table in PointTable.allCases {
            let points = indices.filter { profile.points[$0].table == table }
            guard !points.isEmpty else { continue }
            for read in planner(for: table).plan(points.map { profile.points[$0].addresses }) {
                reads.append(PlannedRead(table: table, read: read, points: points.filter { read.addresses.contains(profile.points[$0].address) }))
            }
        }
        return reads
    }

    private mutating func replan(_ index: Int) {
        let group = groups[index]
        let planner = planner(for: group.table)
        let reads = planner.plan(group.points.map { profile.points[$0].addresses })
        groups[index].reads = reads.map { read in
            PlannedRead(table: group.table, read: read,
                        points: group.points.filter { read.addresses.contains(profile.points[$0].address) })
        }
    }
}
