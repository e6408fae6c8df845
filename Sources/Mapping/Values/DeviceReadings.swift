/// The latest reading of every point of one device, and the decoding that needs more than one
/// point: a scale read from another register (`decimalsFrom`) and values made invalid by a
/// status flag (`invalidWhen`).
public struct DeviceReadings: Sendable {
    public let profile: DeviceProfile
    /// The latest reading of each point read so far, by name.
    public private(set) var latest: [String: PointReading] = [:]
    /// Points other points depend on, decoded first when read together.
    private let referenced: Set<String>

    public init(profile: DeviceProfile) {
        self.profile = profile
        var referenced = Set<String>()
        for point in profile.points {
            if case let .decimalsFrom(source) = point.scaling { referenced.insert(source) }
            for condition in point.invalidWhen { referenced.insert(condition.point) }
        }
        self.referenced = referenced
    }

    /// Decodes the points at `indices` (into `profile.points`) from `registers` read from `start`;
    /// returns each point with its reading, in the order of `indices`.
    public mutating func decode(_ indices: [Int], registers: [UInt16], start: Int) -> [(Point, PointReading)] {
        decode(indices) { point, latest in
            let offset = point.address - start
            guard offset >= 0, offset + point.type.width <= registers.count else {
                return .error("not in the answer (\(registers.count) registers from \(start))")
            }
            return PointDecoder.decode(point, registers: registers[offset..<offset + point.type.width],
                                       decimals: Self.decimals(for: point, in: latest))
        }
    }

    /// Decodes the bit points at `indices` from `bits` read from `start`.
    public mutating func decode(_ indices: [Int], bits: [Bool], start: Int) -> [(Point, PointReading)] {
        decode(indices) { point, _ in
            let offset = point.address - start
            guard offset >= 0, offset < bits.count else { return .error("not in the answer (\(bits.count) bits from \(start))") }
            return PointDecoder.decode(point, bit: bits[offset])
        }
    }

    /// Records a reading that did not come from registers (a read that failed for this point).
    public mutating func record(_ reading: PointReading, for name: String) {
        latest[name] = reading
    }

    /// The current decimal-point value for a point that scales by `decimalsFrom`, if read.
    public func decimals(for point: Point) -> Int64? {
        Self.decimals(for: point, in: latest)
    }

    private static func decimals(for point: Point, in latest: [String: PointReading]) -> Int64? {
        guard case let .decimalsFrom(source) = point.scaling, case let .integer(value)? = latest[source]?.value else { return nil }
        return value
    }

    /// Forgets every reading (the device restarted or went offline).
    public mutating func clear() {
        latest = [:]
    }

    private mutating func decode(_ indices: [Int], reading: (Point, [String: PointReading]) -> PointReading) -> [(Point, PointReading)] {
        let valid = indices.filter { profile.points.indices.contains($0) }
        let ordered = valid.filter { referenced.contains(profile.points[$0].name) } + valid.filter { !referenced.contains(profile.points[$0].name) }
        var results: [Int: PointReading] = [:]
        for index in ordered {
            let point = profile.points[index]
            var result = reading(point, latest)
            if case .value = result, let condition = point.invalidWhen.first(where: { PointDecoder.flags(in: latest[$0.point]).contains($0.flag) }) {
                result = .error("invalid while \(condition.point) has \(condition.flag) set")
            }
            latest[point.name] = result
            results[index] = result
        }
        return valid.compactMap { index in results[index].map { (profile.points[index], $0) } }
    }
}
