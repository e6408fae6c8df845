extension ConfigParser {
    static let idRule = "an id of 1-50 letters, digits, '_' or '-'"
    static let nameRule = "a name of 3-63 lowercase letters, digits or '-'"
    /// The contract's limit on a device's aliases (docs/iot-core.md).
    static let maximumAliases = 5

    func registry(_ value: JSONValue, path: String, buses: [BusSettings]?) -> RegistrySettings? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let id = reader.string("id", required: true, expected: Self.idRule, valid: Naming.isID)
        let name = reader.string("name", expected: Self.nameRule, valid: Naming.isDeviceName)
        let disabled = reader.bool("disabled") ?? false
        let credentials = credentials(&reader)
        let devices = (reader.array("devices", required: true) ?? []).compactMap { device($0.0, path: $0.1, buses: buses) }
        reader.finish()
        guard let id else { return nil }
        return RegistrySettings(id: id, name: name ?? defaultName(id, path: path), disabled: disabled,
                                credentials: credentials, devices: devices, path: path)
    }

    /// A device whose id is readable, so later checks (bus, profile, overrides, aliases) still run
    /// when another field is wrong; a wrong field is reported, so it never loads.
    private func device(_ value: JSONValue, path: String, buses: [BusSettings]?) -> DeviceSettings? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let id = reader.string("id", required: true, expected: Self.idRule, valid: Naming.isID)
        let name = reader.string("name", expected: Self.nameRule, valid: Naming.isDeviceName)
        let aliases = aliases(&reader)
        let credentials = credentials(&reader)
        let polled = ["bus", "unit", "profile"].contains { reader.value($0) != nil }
        let modbus = modbusBinding(&reader, path: path, buses: buses)
        let upstream = deviceUpstream(&reader, polled: polled)
        reader.finish()
        guard let id else { return nil }
        return DeviceSettings(id: id, name: name ?? defaultName(id, path: path), aliases: aliases.map(\.0), aliasPaths: aliases.map(\.1),
                              credentials: credentials, modbus: modbus, upstream: upstream, path: path)
    }

    /// The id, when `name` is not given; reported if the id is not a valid name.
    private func defaultName(_ id: String, path: String) -> String {
        if !Naming.isDeviceName(id) {
            log.report("\(path).name", "missing, and the id \"\(id)\" is not a valid name (3-63 lowercase letters, digits or '-'); give a name")
        }
        return id
    }

    /// `bus`, `unit` and `profile`, which go together: all three make a polled Modbus device,
    /// none an MQTT device.
    private func modbusBinding(_ reader: inout ObjectReader, path: String, buses: [BusSettings]?) -> ModbusBinding? {
        let keys = ["bus", "unit", "profile"]
        let given = keys.filter { reader.value($0) != nil }
        let bus = reader.string("bus", expected: "the id of a bus")
        let unit = reader.integer("unit", in: 0...255, expected: "a unit id 1...247 (TCP: 0...255)")
        let profile = reader.string("profile", expected: "the model of a profile")
        let overrides = reader.value("overrides")
        if given.isEmpty {
            if overrides != nil { log.report(reader.childPath("overrides"), "applies to a Modbus device (with bus, unit and profile) only") }
            return nil
        }
        for key in keys where !given.contains(key) {
            log.report(reader.childPath(key), "missing: bus, unit and profile go together (a Modbus device the gateway polls needs all three; an MQTT device has none)")
        }
        if let overrides, case .object = overrides {} else if let overrides {
            log.mismatch(reader.childPath("overrides"), found: overrides, expected: "an object shaped like a profile")
        }
        if let bus, let buses, !buses.contains(where: { $0.id == bus }) {
            let known = buses.isEmpty ? "the config has no buses" : buses.map(\.id).joined(separator: ", ")
            log.report("\(path).bus", "found \"\(bus)\", expected the id of a bus (\(known))")
        }
        guard let bus, let profile, given.contains("unit") else { return nil }
        return ModbusBinding(bus: bus, unit: UInt8(unit ?? 0), profile: profile, overrides: overrides)
    }

    /// Up to 5 topic prefixes, each normalised to end with "/", with its path.
    private func aliases(_ reader: inout ObjectReader) -> [(String, String)] {
        guard let items = reader.array("aliases") else { return [] }
        if items.count > Self.maximumAliases {
            log.report(reader.childPath("aliases"), "\(items.count) aliases, expected at most \(Self.maximumAliases)")
        }
        return items.compactMap { item, path in
            guard case let .string(text) = item else {
                log.mismatch(path, found: item, expected: "a topic prefix such as \"plant/oven1/\"")
                return nil
            }
            if let problem = TopicAlias.problem(text) {
                log.report(path, "found \(item.shortDescription), expected \(problem)")
                return nil
            }
            return (TopicAlias.normalized(text), path)
        }
    }

    /// `{"passwords": [hash, ...], "certificates": [{"file": path} | {"fingerprint": hex}, ...]}`.
    private func credentials(_ reader: inout ObjectReader) -> CredentialSettings {
        var credentials = CredentialSettings()
        guard var fields = reader.object("credentials") else { return credentials }
        for (item, path) in fields.array("passwords") ?? [] {
            guard case let .string(text) = item else {
                log.mismatch(path, found: item, expected: "a password hash made by `modbridge passwd` ($pbkdf2-sha256$...)")
                continue
            }
            // Never echo the text: it may be a real password.
            guard text.hasPrefix("$") else {
                let weakness = PasswordRules.weakness(of: text).map { "; it is also weak: \($0)" } ?? ""
                log.report(path, "a plaintext password is not accepted: store its hash, made by `modbridge passwd`\(weakness)")
                continue
            }
            credentials.passwords.append(.init(hash: text, path: path))
        }
        for (item, path) in fields.array("certificates") ?? [] {
            if let certificate = certificate(item, path: path) { credentials.certificates.append(certificate) }
        }
        fields.finish()
        return credentials
    }

    private func certificate(_ value: JSONValue, path: String) -> CredentialSettings.Certificate? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let file = reader.string("file", expected: "the path of a PEM certificate", valid: { !$0.isEmpty })
        let fingerprint = reader.string("fingerprint", expected: "a SHA-256 fingerprint (64 hex digits, colons allowed) or a legacy SHA-1 one (40)",
                                        valid: { Self.normalizedFingerprint($0) != nil })
        let given = (reader.value("file") != nil ? 1 : 0) + (reader.value("fingerprint") != nil ? 1 : 0)
        reader.finish()
        if given == 0 { log.report(path, "missing, expected {\"file\": path} or {\"fingerprint\": hex}") }
        if given == 2 { log.report(path, "give either file or fingerprint, not both") }
        guard given == 1 else { return nil }
        if let file { return .init(source: .file(file), path: path) }
        if let fingerprint, let hex = Self.normalizedFingerprint(fingerprint) { return .init(source: .fingerprint(hex), path: path) }
        return nil
    }

    /// Lowercase hex without colons or spaces, if it is 64 or 40 hex digits.
    static func normalizedFingerprint(_ text: String) -> String? {
        let hex = String(text.lowercased().filter { $0 != ":" && $0 != " " })
        guard hex.utf8.count == 64 || hex.utf8.count == 40,
              hex.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else { return nil }
        return hex
    }

    /// In one registry no alias may be a prefix of another (both paths named).
    func checkAliasPrefixes(_ registry: RegistrySettings) {
        var seen: [(alias: String, path: String)] = []
        for device in registry.devices {
            for (alias, path) in zip(device.aliases, device.aliasPaths) {
                for other in seen {
                    if alias == other.alias {
                        log.report(path, "\"\(alias)\" is already the alias at \(other.path)")
                    } else if alias.hasPrefix(other.alias) || other.alias.hasPrefix(alias) {
                        let (shorter, longer) = alias.count < other.alias.count ? (alias, other.alias) : (other.alias, alias)
                        log.report(path, "\"\(shorter)\" is a prefix of \"\(longer)\" (\(other.path)): in one registry no alias may be a prefix of another")
                    }
                }
                seen.append((alias, path))
            }
        }
    }
}
