/// Walks a profile tree, reporting every problem to `log`; returns nil where a part is unusable.
struct ProfileParser {
    let log: ProblemLog

    private static let intervalRange = Duration.milliseconds(10)...Duration.seconds(86_400)
    private static let typeNames = RegisterValueType.allCases.map(\.rawValue) + ["bool", "bit", "string", "enum", "flags"]
    private static let orders = ["abcd", "cdab", "badc", "dcba"]

    struct Defaults {
        var interval: Duration = .seconds(1)
        var report = ReportRule()
        var subtopic = false
        /// Writable points only: read again after each write.
        var readBack = false
    }

    func profile(_ value: JSONValue) -> DeviceProfile? {
        guard var reader = ObjectReader(value, path: "$", log: log) else { return nil }
        let model = reader.string("model", required: true, expected: "a model id of lowercase letters, digits and '-'", valid: Naming.isModel)
        let vendor = reader.string("vendor", required: true)
        let description = reader.string("description") ?? ""
        let verified = reader.bool("verified") ?? true
        let limits = reader.object("limits").map(parseLimits) ?? DeviceLimits()
        let defaults = reader.object("defaults").map(parseDefaults) ?? Defaults()
        let points = (reader.array("points", required: true, nonEmpty: true) ?? []).compactMap { point($0.0, path: $0.1, defaults: defaults) }
        let setup = (reader.array("setup") ?? []).compactMap { setupWrite($0.0, path: $0.1) }
        let commands = (reader.array("commands") ?? []).compactMap { command($0.0, path: $0.1) }
        let holes = (reader.array("holes") ?? []).compactMap { hole($0.0, path: $0.1) }
        let writeOnly = reader.bool("writeOnly") ?? false
        let writeDeadline = reader.duration("writeDeadline", in: DeviceProfile.writeDeadlineRange)
        reader.finish()
        guard let model, let vendor else { return nil }
        var profile = DeviceProfile(model: model, vendor: vendor, description: description, verified: verified, limits: limits,
                                    points: points, setup: setup, commands: commands)
        profile.holes = holes
        profile.writeOnly = writeOnly
        if let writeDeadline { profile.writeDeadline = writeDeadline }
        crossCheck(profile)
        return profile
    }

    private func parseLimits(_ reader: ObjectReader) -> DeviceLimits {
        var reader = reader
        var limits = DeviceLimits()
        if let value = reader.integer("maxRegistersPerRead", in: 1...125) { limits.maxRegistersPerRead = Int(value) }
        if let value = reader.integer("maxBitsPerRead", in: 1...2000) { limits.maxBitsPerRead = Int(value) }
        if let value = reader.integer("maxRegistersPerWrite", in: 1...123) { limits.maxRegistersPerWrite = Int(value) }
        if let value = reader.integer("maxBitsPerWrite", in: 1...1968) { limits.maxBitsPerWrite = Int(value) }
        if let value = reader.bool("writeSingle") { limits.writeSingle = value }
        if let value = reader.bool("writeMultiple") { limits.writeMultiple = value }
        if let value = reader.bool("broadcast") { limits.broadcast = value }
        if let value = reader.integer("coilReadFunction", in: 1...2, expected: "1 (FC01) or 2 (FC02)") { limits.coilReadFunction = UInt8(value) }
        if let value = reader.integer("maxGap", in: 0...124) { limits.maxGap = Int(value) }
        if let value = reader.integer("maxBitGap", in: 0...1999) { limits.maxBitGap = Int(value) }
        if let value = reader.duration("turnaround", in: .zero...Duration.seconds(10)) { limits.turnaround = value }
        reader.finish()
        return limits
    }

    private func parseDefaults(_ reader: ObjectReader) -> Defaults {
        var reader = reader
        var defaults = Defaults()
        if let value = reader.duration("interval", in: Self.intervalRange) { defaults.interval = value }
        if let value = reader.object("report") { defaults.report = parseReport(value, base: defaults.report) }
        if let value = reader.bool("subtopics") { defaults.subtopic = value }
        if let value = reader.bool("readBack") { defaults.readBack = value }
        reader.finish()
        return defaults
    }

    private func parseReport(_ reader: ObjectReader, base: ReportRule) -> ReportRule {
        var reader = reader
        var rule = base
        if let value = reader.bool("onChange") { rule.onChange = value }
        if let value = reader.number("deadband", expected: "a number ≥ 0", valid: { $0 >= 0 }) { rule.deadband = value }
        if let value = reader.duration("heartbeat", in: .zero...Duration.seconds(86_400)) { rule.heartbeat = value == .zero ? nil : value }
        reader.finish()
        return rule
    }

    private func table(_ reader: inout ObjectReader, writableOnly: Bool = false) -> PointTable? {
        let names = writableOnly ? ["holding", "coil"] : PointTable.allCases.map(\.rawValue)
        return reader.choice("table", names, required: true).flatMap(PointTable.init(rawValue:))
    }

    private func order(_ reader: inout ObjectReader) -> RegisterOrder {
        reader.choice("order", Self.orders).flatMap { RegisterOrder(notation: $0) } ?? .bigEndian
    }

    func point(_ value: JSONValue, path: String, defaults: Defaults) -> Point? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let name = reader.string("name", required: true, expected: Naming.pointNameRule, valid: Naming.isPointName)
        let description = reader.string("description") ?? ""
        let table = table(&reader)
        let address = reader.integer("address", in: 0...65535, required: true)
        let type = pointType(&reader, table: table)
        let access = reader.choice("access", ["read", "readwrite", "write"]).flatMap(PointAccess.init(rawValue:)) ?? .read
        if let table, access.isWritable, !table.isWritable {
            log.report(reader.childPath("access"), "\(table.rawValue) points cannot be written; writable tables are holding and coil")
        }
        let isNumber = type?.isNumber ?? false

        var scaling = PointScaling.identity
        // Scales and offsets are bounded so that raw × scale + offset stays finite for every raw
        // value (a uint64 too) and the published rounding (at most 12 decimals) still applies.
        let scale = reader.number("scale", expected: "a non-zero number from ±1e-12 to ±1e12",
                                  valid: { $0 != 0 && abs($0) >= 1e-12 && abs($0) <= 1e12 })
        let offset = reader.number("offset", expected: "a number from -1e12 to 1e12", valid: { abs($0) <= 1e12 })
        let decimalsFrom = reader.string("decimalsFrom", expected: "the name of an integer point of this profile", valid: Naming.isPointName)
        if (scale != nil || offset != nil || decimalsFrom != nil) && type != nil && !isNumber {
            log.report(path, "scale, offset and decimalsFrom apply to numbers only, not to \(type?.name ?? "")")
        } else if let decimalsFrom {
            if scale != nil || offset != nil {
                log.report(reader.childPath("decimalsFrom"), "use either decimalsFrom or scale/offset, not both")
            }
            scaling = .decimalsFrom(decimalsFrom)
        } else if scale != nil || offset != nil {
            scaling = .linear(scale: scale ?? 1, offset: offset ?? 0)
        }
        let unit = reader.string("unit")
        let minimum = reader.number("min")
        let maximum = reader.number("max")
        if (minimum != nil || maximum != nil) && type != nil && (!access.isWritable || !isNumber) {
            log.report(path, "min and max bound written numbers: they need a number type and access readwrite or write")
        }
        if let minimum, let maximum, minimum > maximum {
            log.report(reader.childPath("min"), "found min \(minimum) above max \(maximum)")
        }
        let minimumWriteInterval = reader.duration("minWriteInterval", in: .zero...Duration.seconds(86_400 * 7))
        if minimumWriteInterval != nil && !access.isWritable {
            log.report(reader.childPath("minWriteInterval"), "applies to writable points only")
        }
        let interval = reader.duration("interval", in: Self.intervalRange) ?? defaults.interval
        let report = reader.object("report").map { parseReport($0, base: defaults.report) } ?? defaults.report
        let subtopic = reader.bool("subtopics") ?? defaults.subtopic
        let sentinels = (reader.array("sentinels") ?? []).compactMap { sentinel($0.0, path: $0.1, type: type) }
        let isEnumeration: Bool = if case .enumeration? = type { true } else { false }
        if !sentinels.isEmpty, type != nil, !(type?.isInteger ?? false) && !isEnumeration {
            log.report(reader.childPath("sentinels"), "sentinels apply to integer and enum points only")
        }
        let invalidWhen = (reader.array("invalidWhen") ?? []).compactMap { invalidCondition($0.0, path: $0.1) }
        let readBack = reader.bool("readBack")
        if readBack == true && !access.isWritable {
            log.report(reader.childPath("readBack"), "applies to writable points only (access readwrite or write)")
        }
        reader.finish()

        guard let name, let table, let address, let type else { return nil }
        if Int(address) + type.width > 65536 {
            log.report(reader.childPath("address"), "the point's \(type.width) \(table.holdsBits ? "bits" : "registers") run past address 65535")
        }
        return Point(name: name, description: description, table: table, address: Int(address), type: type, scaling: scaling,
                     unit: unit, access: access, minimum: minimum, maximum: maximum, minimumWriteInterval: minimumWriteInterval,
                     interval: interval, report: report, subtopic: subtopic, sentinels: sentinels, invalidWhen: invalidWhen,
                     readBack: access.isWritable && (readBack ?? defaults.readBack))
    }

    private func pointType(_ reader: inout ObjectReader, table: PointTable?) -> PointType? {
        let typeName = reader.choice("type", Self.typeNames, required: !(table?.holdsBits ?? false))
        let order = order(&reader)
        let bit = reader.integer("bit", in: 0...15)
        let length = reader.integer("length", in: 1...125)
        let registers = reader.integer("registers", in: 1...2)
        let labels = reader.members("labels")
        let flags = reader.members("flags")
        let name = typeName ?? (table?.holdsBits == true ? "bool" : nil)
        guard let name else { return nil }
        func unused(_ key: String, _ present: Bool) {
            if present { log.report(reader.childPath(key), "does not apply to type \(name)") }
        }
        unused("bit", bit != nil && name != "bit")
        unused("length", length != nil && name != "string")
        unused("registers", registers != nil && name != "flags")
        unused("labels", labels != nil && name != "enum")
        unused("flags", flags != nil && name != "flags")
        if let table, table.holdsBits, name != "bool" {
            log.report(reader.childPath("type"), "found \"\(name)\", expected \"bool\": a \(table.rawValue) holds one bit")
            return nil
        }
        switch name {
        case "bool":
            return .bool
        case "bit":
            guard let bit else {
                log.report(reader.childPath("bit"), "missing, expected the bit number 0...15 (0 the least significant)")
                return nil
            }
            return .bit(Int(bit))
        case "string":
            guard let length else {
                log.report(reader.childPath("length"), "missing, expected the number of registers 1...125")
                return nil
            }
            return .string(registers: Int(length), order: order)
        case "enum":
            guard let labels, !labels.isEmpty else {
                log.report(reader.childPath("labels"), "missing, expected an object from raw value (\"0\") to label")
                return nil
            }
            var result: [UInt16: String] = [:]
            var seen: Set<String> = []
            for (key, value, path) in labels {
                guard let raw = UInt16(key), String(raw) == key else {
                    log.report(path, "the key \"\(key)\" is not a raw value; expected a decimal 0...65535 without leading zeros")
                    continue
                }
                guard case let .string(label) = value, !label.isEmpty else {
                    log.mismatch(path, found: value, expected: "a label (a non-empty string)")
                    continue
                }
                if !seen.insert(label).inserted { log.report(path, "the label \"\(label)\" is used twice") }
                result[raw] = label
            }
            return .enumeration(labels: result)
        case "flags":
            guard let flags, !flags.isEmpty else {
                log.report(reader.childPath("flags"), "missing, expected an object from bit number (\"0\") to flag name")
                return nil
            }
            let width = Int(registers ?? 1)
            var names: [Int: String] = [:]
            var seen: Set<String> = []
            for (key, value, path) in flags {
                guard let bit = Int(key), String(bit) == key, (0..<(16 * width)).contains(bit) else {
                    log.report(path, "the key \"\(key)\" is not a bit number; expected a decimal 0...\(16 * width - 1) without leading zeros")
                    continue
                }
                guard case let .string(flag) = value, Naming.isPointName(flag) else {
                    log.mismatch(path, found: value, expected: "a flag name: " + Naming.pointNameRule)
                    continue
                }
                if !seen.insert(flag).inserted { log.report(path, "the flag \"\(flag)\" is used twice") }
                names[bit] = flag
            }
            return .flags(registers: width, order: order, names: names)
        default:
            guard let kind = RegisterValueType(rawValue: name) else { return nil }
            return .number(kind, order: order)
        }
    }

    private func sentinel(_ value: JSONValue, path: String, type: PointType?) -> Sentinel? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let error = reader.string("error", required: true, expected: "what the value means (a string)")
        var raw: Int64?
        switch reader.value("raw", required: true, expected: "an integer, or a hex string of the register bits (\"0x8003\")") {
        case let .integer(number)?:
            raw = number
        case let .string(text)? where text.lowercased().hasPrefix("0x"):
            if let bits = UInt64(text.dropFirst(2), radix: 16) {
                raw = Self.signedValue(ofBits: bits, type: type)
            } else {
                log.report(reader.childPath("raw"), "found \"\(text)\", expected hex digits after 0x")
            }
        case let other?:
            log.mismatch(reader.childPath("raw"), found: other, expected: "an integer, or a hex string of the register bits (\"0x8003\")")
        case nil:
            break
        }
        reader.finish()
        guard let raw, let error else { return nil }
        return Sentinel(raw: raw, error: error)
    }

    /// Register bits read as the point's type would read them (0x8003 is -32765 for an int16).
    static func signedValue(ofBits bits: UInt64, type: PointType?) -> Int64 {
        guard case let .number(kind, _)? = type else { return Int64(truncatingIfNeeded: bits) }
        switch kind {
        case .int16: return Int64(Int16(truncatingIfNeeded: bits))
        case .int32: return Int64(Int32(truncatingIfNeeded: bits))
        default: return Int64(truncatingIfNeeded: bits)
        }
    }

    private func invalidCondition(_ value: JSONValue, path: String) -> InvalidWhen? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let point = reader.string("point", required: true, expected: "the name of a flags point", valid: Naming.isPointName)
        let flag = reader.string("flag", required: true, expected: "a flag name of that point", valid: Naming.isPointName)
        reader.finish()
        guard let point, let flag else { return nil }
        return InvalidWhen(point: point, flag: flag)
    }

    func setupWrite(_ value: JSONValue, path: String) -> SetupWrite? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let table = table(&reader, writableOnly: true)
        let address = reader.integer("address", in: 0...65535, required: true)
        let raw = reader.value("value", required: true, expected: Self.rawExpectation(table))
            .flatMap { rawValue($0, path: reader.childPath("value"), table: table) }
        let description = reader.string("description") ?? ""
        reader.finish()
        guard let table, let address, let raw else { return nil }
        return SetupWrite(table: table, address: Int(address), value: raw, description: description)
    }

    private static func rawExpectation(_ table: PointTable?) -> String {
        table == .coil ? "true or false" : "a register value 0...65535"
    }

    /// What a setup write or a command code writes: a register value 0...65535, or true/false
    /// (1/0) for a coil; nil (reported unless the table itself was wrong) otherwise.
    private func rawValue(_ value: JSONValue, path: String, table: PointTable?) -> UInt16? {
        switch (value, table) {
        case let (.bool(flag), .coil?): return flag ? 1 : 0
        case let (.integer(number), .holding?) where (0...65535).contains(number): return UInt16(number)
        case (_, nil): return nil
        default:
            log.mismatch(path, found: value, expected: Self.rawExpectation(table))
            return nil
        }
    }

    func command(_ value: JSONValue, path: String) -> CommandPoint? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let name = reader.string("name", required: true, expected: Naming.pointNameRule, valid: Naming.isPointName)
        let description = reader.string("description") ?? ""
        let table = table(&reader, writableOnly: true)
        let address = reader.integer("address", in: 0...65535, required: true)
        var codes: [String: UInt16] = [:]
        let members = reader.members("codes")
        if members?.isEmpty ?? true {
            log.report(reader.childPath("codes"), "missing, expected an object from label to the code written")
        }
        for (label, code, codePath) in members ?? [] {
            guard !label.isEmpty else {
                log.report(codePath, "empty label")
                continue
            }
            codes[label] = rawValue(code, path: codePath, table: table)
        }
        reader.finish()
        guard let name, let table, let address else { return nil }
        return CommandPoint(name: name, description: description, table: table, address: Int(address), codes: codes)
    }
}
