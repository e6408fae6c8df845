/// Checks that need the whole profile: names, references between points, overlaps, and that
/// every write and read fits what the device accepts.
extension ProfileParser {
    func crossCheck(_ profile: DeviceProfile) {
        var seen: [String: String] = [:]
        for (index, point) in profile.points.enumerated() {
            let path = "$.points[\(index)]"
            if let other = seen[point.name] { log.report("\(path).name", "\"\(point.name)\" is already the name of \(other)") }
            seen[point.name] = path
            checkReferences(point, path: path, in: profile)
            checkFits(point, path: path, limits: profile.limits)
        }
        for (index, command) in profile.commands.enumerated() {
            let path = "$.commands[\(index)]"
            if let other = seen[command.name] { log.report("\(path).name", "\"\(command.name)\" is already the name of \(other)") }
            seen[command.name] = path
            if let problem = writeProblem(table: command.table, width: 1, limits: profile.limits) { log.report(path, problem) }
        }
        for (index, write) in profile.setup.enumerated() {
            if let problem = writeProblem(table: write.table, width: 1, limits: profile.limits) { log.report("$.setup[\(index)]", problem) }
        }
        checkOverlaps(profile.points)
        checkHoles(profile)
        checkWriteOnly(profile)
    }

    private func checkReferences(_ point: Point, path: String, in profile: DeviceProfile) {
        if case let .decimalsFrom(name) = point.scaling {
            let source = profile.point(named: name)
            if !(source?.type.isInteger ?? false) || source?.access == .write || name == point.name {
                log.report("\(path).decimalsFrom", "found \"\(name)\", expected the name of another readable integer point of this profile")
            }
        }
        for (index, condition) in point.invalidWhen.enumerated() {
            let conditionPath = "\(path).invalidWhen[\(index)]"
            guard let source = profile.point(named: condition.point), case let .flags(_, _, names) = source.type else {
                log.report("\(conditionPath).point", "found \"\(condition.point)\", expected the name of a flags point of this profile")
                continue
            }
            if !names.values.contains(condition.flag) {
                log.report("\(conditionPath).flag", "found \"\(condition.flag)\", expected one of \(names.values.sorted().joined(separator: ", "))")
            }
        }
    }

    private func checkFits(_ point: Point, path: String, limits: DeviceLimits) {
        if point.access.isReadable {
            let limit = point.table.holdsBits ? limits.maxBitsPerRead : limits.maxRegistersPerRead
            if point.type.width > limit {
                log.report(path, "the point is \(point.type.width) registers long; the device reads at most \(limit) at once (limits)")
            }
        }
        if point.access.isWritable, let problem = writeProblem(table: point.table, width: point.type.width, limits: limits) {
            log.report("\(path).access", problem)
        }
    }

    /// Why the device cannot take a write of `width` registers or bits, if it cannot.
    func writeProblem(table: PointTable, width: Int, limits: DeviceLimits) -> String? {
        let single = table == .coil ? "FC05" : "FC06"
        let multiple = table == .coil ? "FC15" : "FC16"
        if width == 1 && !limits.writeSingle && !limits.writeMultiple {
            return "the device accepts neither \(single) nor \(multiple) (limits.writeSingle and limits.writeMultiple are false)"
        }
        if width > 1 && !limits.writeMultiple {
            return "writing \(width) registers needs \(multiple), and limits.writeMultiple is false"
        }
        let limit = table == .coil ? limits.maxBitsPerWrite : limits.maxRegistersPerWrite
        if width > limit { return "writing \(width) registers is more than limits allow in one request (\(limit))" }
        return nil
    }

    /// Two points on the same registers are a mistake, unless one of them reads a single bit.
    private func checkOverlaps(_ points: [Point]) {
        let indexed = points.enumerated().sorted { ($0.element.table.rawValue, $0.element.address) < ($1.element.table.rawValue, $1.element.address) }
        for (position, (index, point)) in indexed.enumerated() {
            for (otherIndex, other) in indexed[(position + 1)...] {
                guard other.table == point.table, other.address < point.addresses.upperBound else { break }
                if case .bit = point.type { continue }
                if case .bit = other.type { continue }
                let (first, second) = index < otherIndex ? (index, otherIndex) : (otherIndex, index)
                log.report("$.points[\(second)].address", "overlaps \"\(points[first].name)\" ($.points[\(first)]) in the \(point.table.rawValue) table")
            }
        }
    }
}
