/// The latest reading of every point of one device, and the decoding that needs more than one
/// point: a scale read from another register (`decimalsFrom`) and values made invalid by a
/// status flag (`invalidWhen`). Points are known by their index in `profile.points`: a poll
/// decodes every point of every answer, so nothing here looks a point up by name.
package struct DeviceReadings: Sendable {
    package let profile: DeviceProfile
    private var readings: [PointReading?]
    /// Points other points depend on, decoded first when read together.
    private let isReferenced: [Bool]
    /// Per point, the index of the point its `decimalsFrom` names.
    private let decimalsSource: [Int?]
    /// Per point, its `invalidWhen` conditions with the index of the flags point.
    private let invalidConditions: [[(point: Int, condition: InvalidWhen)]]

    package init(profile: DeviceProfile) {
        self.profile = profile
        let indexByName = Dictionary(profile.points.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        readings = Array(repeating: nil, count: profile.points.count)
        decimalsSource = profile.points.map { point in
            if case let .decimalsFrom(source) = point.scaling { indexByName[source] } else { nil }
        }
        invalidConditions = profile.points.map { point in
            point.invalidWhen.compactMap { condition in indexByName[condition.point].map { ($0, condition) } }
        }
        var referenced = Array(repeating: false, count: profile.points.count)
        for source in decimalsSource.compactMap({ $0 }) { referenced[source] = true }
        for conditions in invalidConditions { for (index, _) in conditions { referenced[index] = true } }
        isReferenced = referenced
    }

    /// The latest reading of the point at `index`, if it has been read.
    package func reading(at index: Int) -> PointReading? {
        readings.indices.contains(index) ? readings[index] : nil
    }

    /// The latest reading of each point read so far, by name.
    package var latest: [String: PointReading] {
        var latest: [String: PointReading] = [:]
        for (index, reading) in readings.enumerated() { if let reading { latest[profile.points[index].name] = reading } }
        return latest
    }

    /// Decodes the points at `indices` (into `profile.points`) from `registers` read from `start`;
    /// returns each point's index with its reading, in the order of `indices`.
    package mutating func decode(_ indices: [Int], registers: [UInt16], start: Int) -> [(index: Int, reading: PointReading)] {
        decode(indices, from: .registers(registers, start: start))
    }

    /// Decodes the bit points at `indices` from `bits` read from `start`.
    package mutating func decode(_ indices: [Int], bits: [Bool], start: Int) -> [(index: Int, reading: PointReading)] {
        decode(indices, from: .bits(bits, start: start))
    }

    /// Records a reading that did not come from registers (a read that failed for this point).
    package mutating func record(_ reading: PointReading, at index: Int) {
        guard readings.indices.contains(index) else { return }
        readings[index] = reading
    }

    /// The current decimal-point value for a point that scales by `decimalsFrom`, if read.
    package func decimals(for point: Point) -> Int64? {
        guard let index = profile.points.firstIndex(where: { $0.name == point.name }) else { return nil }
        return decimals(at: index)
    }

    private func decimals(at index: Int) -> Int64? {
        guard let source = decimalsSource[index], case let .integer(value)? = readings[source]?.value else { return nil }
        return value
    }

    /// Forgets every reading (the device restarted or went offline).
    package mutating func clear() {
        readings = Array(repeating: nil, count: profile.points.count)
    }

    /// What a device answered to one read.
    private enum Answer {
        case registers([UInt16], start: Int)
        case bits([Bool], start: Int)
    }

    private mutating func decode(_ indices: [Int], from answer: Answer) -> [(index: Int, reading: PointReading)] {
        var results: [(index: Int, reading: PointReading)] = []
        results.reserveCapacity(indices.count)
        let count = readings.count
        // Points other points depend on are decoded first; the answer is then put back in the
        // order asked for.
        let reordered = indices.contains { (0..<count).contains($0) && isReferenced[$0] }
        func decodePoints(where wanted: (Int) -> Bool) {
            for index in indices where (0..<count).contains(index) && wanted(index) {
                let result = decoded(profile.points[index], at: index, from: answer)
                readings[index] = result
                results.append((index, result))
            }
        }
        if reordered {
            // Sources first, then the rest; then back to the order asked for.
            decodePoints { isReferenced[$0] }
            decodePoints { !isReferenced[$0] }
            let position = Dictionary(indices.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            results.sort { position[$0.index, default: 0] < position[$1.index, default: 0] }
        } else {
            decodePoints { _ in true }
        }
        return results
    }

    /// The reading of `point` (at `index`) in `answer`, checked against its `invalidWhen` flags.
    private func decoded(_ point: Point, at index: Int, from answer: Answer) -> PointReading {
        var result: PointReading
        switch answer {
        case let .registers(registers, start):
            let offset = point.address - start
            let width = point.type.width
            if offset >= 0, offset + width <= registers.count {
                result = PointDecoder.decode(point, registers: registers[offset..<offset + width], decimals: decimals(at: index))
            } else {
                result = .error("not in the answer (\(registers.count) registers from \(start))")
            }
        case let .bits(bits, start):
            let offset = point.address - start
            result = offset >= 0 && offset < bits.count ? PointDecoder.decode(point, bit: bits[offset])
                                                         : .error("not in the answer (\(bits.count) bits from \(start))")
        }
        if case .value = result, !invalidConditions[index].isEmpty,
           let (_, condition) = invalidConditions[index].first(where: { PointDecoder.flags(in: readings[$0.point]).contains($0.condition.flag) }) {
            result = .error("invalid while \(condition.point) has \(condition.flag) set")
        }
        return result
    }
}
