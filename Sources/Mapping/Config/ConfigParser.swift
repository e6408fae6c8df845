import Serial

/// Walks a config tree, reporting every problem to `log`.
struct ConfigParser {
    let log: ProblemLog

    func config(_ value: JSONValue) -> GatewayConfig? {
        guard var reader = ObjectReader(value, path: "$", log: log) else { return nil }
        let broker = reader.object("broker").flatMap(broker) ?? .embedded(listeners: [.init(host: "127.0.0.1", port: 1883)], maximumMessageSize: 262_144)
        let storage = reader.string("storage", expected: "a folder path", valid: { !$0.isEmpty })
        var profiles = ["mappings"]
        if let items = reader.array("profiles", nonEmpty: true) {
            profiles = items.compactMap { item, path in
                guard case let .string(text) = item, !text.isEmpty else {
                    log.mismatch(path, found: item, expected: "a folder or file path")
                    return nil
                }
                return text
            }
        }
        let buses = (reader.array("buses", required: true, nonEmpty: true) ?? []).compactMap { bus($0.0, path: $0.1) }
        let registries = (reader.array("registries", required: true, nonEmpty: true) ?? []).compactMap { registry($0.0, path: $0.1, buses: buses) }
        reader.finish()
        let config = GatewayConfig(broker: broker, storage: storage, profiles: profiles, buses: buses, registries: registries)
        crossCheck(config)
        return config
    }

    private func broker(_ reader: ObjectReader) -> BrokerSettings? {
        var reader = reader
        let mode = reader.choice("mode", ["embedded", "upstream"]) ?? "embedded"
        var listeners: [BrokerSettings.Listener] = [.init(host: "127.0.0.1", port: 1883)]
        if let items = reader.array("listeners", nonEmpty: true) {
            listeners = items.compactMap { item, path in
                guard var listener = ObjectReader(item, path: path, log: log) else { return nil }
                let host = listener.string("host", required: true, expected: "an address to listen on", valid: { !$0.isEmpty })
                let port = listener.integer("port", in: 0...65535, required: true)
                listener.finish()
                guard let host, let port else { return nil }
                return .init(host: host, port: UInt16(port))
            }
        }
        let maximumMessageSize = reader.integer("maxMessageSize", in: 1024...268_435_455).map(Int.init) ?? 262_144
        let upstreamReader = reader.object("upstream", required: mode == "upstream")
        reader.finish()
        if mode == "embedded" {
            if upstreamReader != nil { log.report(reader.childPath("upstream"), "applies to mode \"upstream\" only") }
            return .embedded(listeners: listeners, maximumMessageSize: maximumMessageSize)
        }
        guard var upstream = upstreamReader else { return nil }
        let url = upstream.string("url", required: true, expected: "mqtt://host[:port]")
        let clientID = upstream.string("clientId", required: true, expected: "an MQTT client id (1-23 characters is safe with any broker)", valid: { !$0.isEmpty && $0.utf8.count <= 65535 })
        let username = upstream.string("username")
        let password = upstream.string("password")
        let keepAlive = upstream.duration("keepAlive", in: .zero...Duration.seconds(65535)) ?? .seconds(60)
        upstream.finish()
        guard let url, let clientID else { return nil }
        guard let (host, port) = Self.parseURL(url) else {
            log.report(upstream.childPath("url"), "found \"\(url)\", expected mqtt://host[:port] (port 1883 by default)")
            return nil
        }
        return .upstream(.init(host: host, port: port, clientID: clientID, username: username, password: password, keepAlive: keepAlive))
    }

    /// `mqtt://host[:port]`, `[v6]` allowed.
    static func parseURL(_ url: String) -> (String, UInt16)? {
        guard url.hasPrefix("mqtt://") else { return nil }
        let rest = url.dropFirst("mqtt://".count)
        var host = Substring(rest)
        var port: UInt16 = 1883
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let tail = rest[rest.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":"), let parsed = UInt16(tail.dropFirst()), parsed > 0 else { return nil }
                port = parsed
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let parsed = UInt16(rest[rest.index(after: colon)...]), parsed > 0 else { return nil }
            port = parsed
        }
        guard !host.isEmpty, !host.contains("/") else { return nil }
        return (String(host), port)
    }

    private func bus(_ value: JSONValue, path: String) -> BusSettings? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let id = reader.string("id", required: true, expected: "an id of 1-50 letters, digits, '_' or '-'", valid: Naming.isID)
        let type = reader.choice("type", ["rtu", "tcp", "simulator"], required: true)
        let responseTimeout = reader.duration("responseTimeout", in: Duration.milliseconds(1)...Duration.seconds(60)) ?? .milliseconds(500)
        let byteTimeout = reader.duration("byteTimeout", in: Duration.milliseconds(1)...Duration.seconds(10)) ?? .milliseconds(100)
        let interFrameDelay = reader.duration("interFrameDelay", in: .zero...Duration.seconds(10))
        var kind: BusSettings.Kind?
        switch type {
        case "rtu":
            let device = reader.string("device", required: true, expected: "a tty path such as /dev/ttyUSB0", valid: { !$0.isEmpty })
            let line = serialLine(&reader)
            if let device { kind = .rtu(device: device, line: line) }
        case "tcp":
            let host = reader.string("host", required: true, expected: "a host name or address", valid: { !$0.isEmpty })
            let port = reader.integer("port", in: 1...65535) ?? 502
            if let host { kind = .tcp(host: host, port: UInt16(port)) }
        case "simulator":
            let line = serialLine(&reader)
            var units: [UInt8] = [1]
            if let items = reader.array("units", nonEmpty: true) {
                units = items.compactMap { item, itemPath in
                    guard case let .integer(unit) = item, (1...247).contains(unit) else {
                        log.mismatch(itemPath, found: item, expected: "a unit id 1...247")
                        return nil
                    }
                    return UInt8(unit)
                }
                if Set(units).count != units.count { log.report(reader.childPath("units"), "a unit id is listed twice") }
            }
            kind = .simulator(units: units, line: line)
        default:
            break
        }
        reader.finish()
        guard let id, let kind else { return nil }
        return BusSettings(id: id, kind: kind, responseTimeout: responseTimeout, byteTimeout: byteTimeout, interFrameDelay: interFrameDelay)
    }

    private func serialLine(_ reader: inout ObjectReader) -> BusSettings.SerialLine {
        var line = BusSettings.SerialLine()
        // The rates are Serial's `BaudRate`, the one list; an unknown rate is an error, never a default.
        let expected = "one of \(BaudRate.supportedList)"
        if let baud = reader.integer("baud", in: Int64.min...Int64.max, expected: expected) {
            if let rate = BaudRate(rawValue: Int(baud)) {
                line.baud = rate
            } else {
                log.report(reader.childPath("baud"), "found \(baud), expected \(expected)")
            }
        }
        if let parity = reader.choice("parity", ["none", "even", "odd"]) { line.parity = parity }
        if let bits = reader.integer("dataBits", in: 7...8) { line.dataBits = Int(bits) }
        if let bits = reader.integer("stopBits", in: 1...2) { line.stopBits = Int(bits) }
        if let mode = reader.choice("rs485", ["off", "on", "auto"]) { line.rs485 = mode }
        return line
    }

    private func registry(_ value: JSONValue, path: String, buses: [BusSettings]) -> RegistrySettings? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let id = reader.string("id", required: true, expected: "an id of 1-50 letters, digits, '_' or '-'", valid: Naming.isID)
        let devices = (reader.array("devices", required: true, nonEmpty: true) ?? []).compactMap { device($0.0, path: $0.1, buses: buses) }
        reader.finish()
        guard let id else { return nil }
        return RegistrySettings(id: id, devices: devices)
    }

    /// A device whose id, bus and profile are readable, so later checks (bus, profile, overrides)
    /// still run when another field is wrong; a wrong field is reported, so it never loads.
    private func device(_ value: JSONValue, path: String, buses: [BusSettings]) -> DeviceSettings? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let id = reader.string("id", required: true, expected: "an id of 1-50 letters, digits, '_' or '-'", valid: Naming.isID)
        let name = reader.string("name", expected: "a name of 3-63 lowercase letters, digits or '-'", valid: Naming.isDeviceName)
        let bus = reader.string("bus", required: true, expected: "the id of a bus")
        let unit = reader.integer("unit", in: 0...255, required: true, expected: "a unit id 1...247 (TCP: 0...255)")
        let profile = reader.string("profile", required: true, expected: "the model of a profile")
        let overrides = reader.value("overrides")
        if let overrides, case .object = overrides {} else if let overrides {
            log.mismatch(reader.childPath("overrides"), found: overrides, expected: "an object shaped like a profile")
        }
        reader.finish()
        if let bus, !buses.isEmpty, !buses.contains(where: { $0.id == bus }) {
            log.report("\(path).bus", "found \"\(bus)\", expected the id of a bus (\(buses.map(\.id).joined(separator: ", ")))")
        }
        guard let id, let bus, let profile else { return nil }
        if name == nil && !Naming.isDeviceName(id) {
            log.report("\(path).name", "missing, and the id \"\(id)\" is not a valid name (3-63 lowercase letters, digits or '-'); give a name")
        }
        return DeviceSettings(id: id, name: name ?? id, bus: bus, unit: UInt8(unit ?? 0), profile: profile, overrides: overrides, path: path)
    }

    /// Ids unique, devices on known buses at valid and distinct units.
    private func crossCheck(_ config: GatewayConfig) {
        var busPaths: [String: Int] = [:]
        for (index, bus) in config.buses.enumerated() {
            if let first = busPaths[bus.id] { log.report("$.buses[\(index)].id", "\"\(bus.id)\" is already the id of $.buses[\(first)]") }
            busPaths[bus.id] = busPaths[bus.id] ?? index
        }
        var registryIDs: Set<String> = []
        var devicePaths: [String: String] = [:]
        var units: [String: String] = [:]
        for (index, registry) in config.registries.enumerated() {
            if !registryIDs.insert(registry.id).inserted { log.report("$.registries[\(index)].id", "\"\(registry.id)\" is already a registry id") }
            var names: [String: String] = [:]
            for device in registry.devices {
                if let other = devicePaths[device.id] { log.report("\(device.path).id", "\"\(device.id)\" is already the id of \(other)") }
                devicePaths[device.id] = devicePaths[device.id] ?? device.path
                if let other = names[device.name] { log.report("\(device.path).name", "\"\(device.name)\" is already the name of \(other) in this registry") }
                names[device.name] = names[device.name] ?? device.path
                guard let bus = config.bus(device.bus) else { continue }  // reported with the device
                checkUnit(device, on: bus)
                let key = "\(bus.id)/\(device.unit)"
                if let other = units[key] { log.report("\(device.path).unit", "unit \(device.unit) on bus \"\(bus.id)\" is already \(other)") }
                units[key] = units[key] ?? device.path
            }
        }
    }

    private func checkUnit(_ device: DeviceSettings, on bus: BusSettings) {
        // A unit that was not a number 0...255 is reported already.
        if log.problems.contains(where: { $0.path == "\(device.path).unit" }) { return }
        switch bus.kind {
        case .tcp:
            break
        case .rtu:
            if !(1...247).contains(device.unit) {
                log.report("\(device.path).unit", "found \(device.unit), expected a unit id 1...247 on the serial bus \"\(bus.id)\"")
            }
        case let .simulator(units, _):
            if !units.contains(device.unit) {
                log.report("\(device.path).unit", "found \(device.unit), expected one of the simulated units of bus \"\(bus.id)\" (\(units.map(String.init).joined(separator: ", ")))")
            }
        }
    }
}
