/// A profile's `holes` (address ranges the device does not implement) and what a `writeOnly`
/// device's profile may hold.
extension ProfileParser {
    /// `{"table": "holding", "from": 10, "to": 19, "description": "…"}`, both ends included.
    func hole(_ value: JSONValue, path: String) -> AddressHole? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let table = reader.choice("table", PointTable.allCases.map(\.rawValue), required: true).flatMap(PointTable.init(rawValue:))
        let from = reader.integer("from", in: 0...65535, required: true)
        let to = reader.integer("to", in: 0...65535, required: true)
        let description = reader.string("description") ?? ""
        reader.finish()
        guard let table, let from, let to else { return nil }
        guard from <= to else {
            log.report(reader.childPath("to"), "found \(to), below from (\(from)); expected the last address of the hole")
            return nil
        }
        return AddressHole(table: table, addresses: Int(from)...Int(to), description: description)
    }

    /// Nothing the profile reads or writes may fall in one of its holes.
    func checkHoles(_ profile: DeviceProfile) {
        guard !profile.holes.isEmpty else { return }
        func hole(of table: PointTable, _ range: Range<Int>) -> String? {
            guard let index = profile.holes.firstIndex(where: { $0.table == table && $0.overlaps(range) }) else { return nil }
            let hole = profile.holes[index]
            return "falls in a hole ($.holes[\(index)]: \(table.rawValue) \(hole.addresses.lowerBound)...\(hole.addresses.upperBound)), "
                + "addresses the device does not implement"
        }
        for (index, point) in profile.points.enumerated() {
            if let problem = hole(of: point.table, point.addresses) { log.report("$.points[\(index)].address", "\"\(point.name)\" " + problem) }
        }
        for (index, write) in profile.setup.enumerated() {
            if let problem = hole(of: write.table, write.address..<write.address + 1) { log.report("$.setup[\(index)].address", problem) }
        }
        for (index, command) in profile.commands.enumerated() {
            if let problem = hole(of: command.table, command.address..<command.address + 1) { log.report("$.commands[\(index)].address", problem) }
        }
    }

    /// A `writeOnly` device is never read: no readable point, no read-back, no bit of a register
    /// (writing one bit reads the register first).
    func checkWriteOnly(_ profile: DeviceProfile) {
        guard profile.writeOnly else { return }
        for (index, point) in profile.points.enumerated() {
            let path = "$.points[\(index)]"
            if point.access.isReadable {
                log.report("\(path).access", "found \"\(point.access.rawValue)\", expected \"write\": the profile is writeOnly, its device is never read")
            }
            if point.readBack { log.report("\(path).readBack", "a writeOnly device is never read, so nothing can be read back") }
            if case .bit = point.type { log.report("\(path).type", "writing one bit reads its register first, which a writeOnly device does not answer") }
        }
    }
}
