import Serial

/// Walks a config tree, reporting every problem to `log` (registries and devices: ConfigParser+Registries.swift).
struct ConfigParser {
    let log: ProblemLog

    func config(_ value: JSONValue) -> GatewayConfig? {
        guard var reader = ObjectReader(value, path: "$", log: log) else { return nil }
        var upstreamParse = UpstreamParse()
        let brokerSettings = reader.object("broker").flatMap { broker($0, parse: &upstreamParse) }
            ?? (.embedded(listeners: [.init(host: "127.0.0.1", port: 1883)], maximumMessageSize: BrokerSettings.defaultMaximumMessageSize), nil)
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
        let busItems = reader.array("buses", nonEmpty: true)
        let buses = (busItems ?? []).compactMap { bus($0.0, path: $0.1) }
        // Devices name buses only when the config has them (a pure IoT Core has none).
        let knownBuses: [BusSettings]? = reader.value("buses") == nil ? [] : (buses.isEmpty ? nil : buses)
        let registries = (reader.array("registries", required: true, nonEmpty: true) ?? []).compactMap { registry($0.0, path: $0.1, buses: knownBuses) }
        reader.finish()
        var config = GatewayConfig(broker: brokerSettings.settings, storage: storage, profiles: profiles, buses: buses, registries: registries)
        config.messagesPerSecond = brokerSettings.messagesPerSecond
        checkUpstream(&config, upstreamParse)
        crossCheck(config)
        return config
    }

    /// The broker's settings and its per-device message rate (nil: no limit); `parse` is told
    /// what the upstream checks of the registries need.
    private func broker(_ reader: ObjectReader, parse: inout UpstreamParse) -> (settings: BrokerSettings, messagesPerSecond: Int?)? {
        var reader = reader
        let mode = reader.choice("mode", ["embedded", "upstream", "both"]) ?? "embedded"
        parse.mode = mode
        var listeners: [BrokerSettings.Listener] = [.init(host: "127.0.0.1", port: 1883)]
        var maximumMessageSize = BrokerSettings.defaultMaximumMessageSize
        var messagesPerSecond: Int?
        if mode == "upstream" {
            // No embedded broker: its settings would be ignored, so they are errors. Listeners
            // may be HTTP ones for /metrics and /healthz (an operator still monitors the box).
            for key in ["maxMessageSize", "messagesPerSecond"] where reader.value(key) != nil {
                log.report(reader.childPath(key), "applies to broker modes \"embedded\" and \"both\" only (upstream mode runs no broker of its own)")
            }
            listeners = (reader.array("listeners") ?? []).compactMap { listener($0.0, path: $0.1, metricsOnly: true) }
        } else {
            if let items = reader.array("listeners", nonEmpty: true) {
                listeners = items.compactMap { listener($0.0, path: $0.1) }
            }
            maximumMessageSize = reader.integer("maxMessageSize", in: 1024...268_435_455).map(Int.init) ?? maximumMessageSize
            messagesPerSecond = reader.integer("messagesPerSecond", in: 1...1_000_000).map(Int.init)
        }
        let upstreamReader = reader.object("upstream", required: mode != "embedded")
        reader.finish()
        if mode == "embedded" {
            if upstreamReader != nil { log.report(reader.childPath("upstream"), "applies to broker modes \"upstream\" and \"both\" only") }
            return (.embedded(listeners: listeners, maximumMessageSize: maximumMessageSize), messagesPerSecond)
        }
        guard let upstream = upstreamReader.flatMap({ upstream($0, parse: &parse) }) else { return nil }
        if mode == "upstream" { return (.upstream(upstream, listeners: listeners), messagesPerSecond) }
        return (.both(listeners: listeners, maximumMessageSize: maximumMessageSize, upstream: upstream), messagesPerSecond)
    }

    /// `{host, port, protocol?, serve?, insecure?, anonymousAs?, tls?: {certificate, key}}`; the TLS files are loaded by the gateway.
    /// `metricsOnly` (upstream mode): an HTTP listener serving `metrics` alone, `metrics` by default.
    private func listener(_ value: JSONValue, path: String, metricsOnly: Bool = false) -> BrokerSettings.Listener? {
        guard var listener = ObjectReader(value, path: path, log: log) else { return nil }
        let host = listener.string("host", required: true, expected: "an address to listen on", valid: { !$0.isEmpty })
        let port = listener.integer("port", in: 0...65535, required: true)
        let insecure = listener.bool("insecure") ?? false
        let anonymousAs = listener.string("anonymousAs", expected: "the id of a registry or device of this config", valid: Naming.isID)
        let kind = listener.choice("protocol", ["mqtt", "http"]) ?? "mqtt"
        let serve = listener.array("serve", nonEmpty: true)
        var http: BrokerSettings.HTTPServe?
        if kind == "http" {
            http = self.serve(serve, metricsOnly: metricsOnly)
        } else if serve != nil {
            log.report(listener.childPath("serve"), "applies to \"protocol\": \"http\" listeners only")
        }
        if metricsOnly {
            if kind != "http" {
                log.report(listener.childPath("protocol"), "broker mode \"upstream\" opens \"protocol\": \"http\" listeners only, for /metrics and /healthz "
                           + "(MQTT clients use the upstream broker; mode \"both\" runs the embedded broker too)")
            }
            if anonymousAs != nil {
                log.report(listener.childPath("anonymousAs"), "applies to the embedded broker's listeners only (broker modes \"embedded\" and \"both\")")
            }
        }
        var tls: BrokerSettings.TLSFiles?
        if var files = listener.object("tls") {
            let certificate = files.string("certificate", required: true, expected: "the path of the server's certificate chain (PEM)", valid: { !$0.isEmpty })
            let key = files.string("key", required: true, expected: "the path of the server's private key (PEM)", valid: { !$0.isEmpty })
            files.finish()
            if let certificate, let key { tls = .init(certificate: certificate, key: key) }
        }
        listener.finish()
        guard let host, let port else { return nil }
        return .init(host: host, port: UInt16(port), insecure: insecure, tls: tls, anonymousAs: anonymousAs, http: http, path: path)
    }

    /// An HTTP listener's `"serve"`: "websocket", "console", "metrics" (all three if absent;
    /// with `metricsOnly`, "metrics" alone, and the other two are errors).
    private func serve(_ items: [(JSONValue, String)]?, metricsOnly: Bool) -> BrokerSettings.HTTPServe {
        guard let items else { return metricsOnly ? .init(webSocket: false, console: false, metrics: true) : .init() }
        let choices = ["websocket", "console", "metrics"]
        var names: Set<String> = []
        for (item, path) in items {
            guard case let .string(name) = item, choices.contains(name) else {
                log.mismatch(path, found: item, expected: "one of websocket, console, metrics")
                continue
            }
            if metricsOnly && name != "metrics" {
                log.report(path, "\"\(name)\" needs the embedded broker's topics (broker modes \"embedded\" and \"both\"); "
                           + "in mode \"upstream\" an HTTP listener serves \"metrics\" only")
                continue
            }
            names.insert(name)
        }
        return .init(webSocket: names.contains("websocket"), console: names.contains("console"), metrics: names.contains("metrics"))
    }

    private func bus(_ value: JSONValue, path: String) -> BusSettings? {
        guard var reader = ObjectReader(value, path: path, log: log) else { return nil }
        let id = reader.string("id", required: true, expected: "an id of 1-50 letters, digits, '_' or '-'", valid: Naming.isID)
        let type = reader.choice("type", ["rtu", "tcp", "rtu-over-tcp", "simulator"], required: true)
        let responseTimeout = reader.duration("responseTimeout", in: Duration.milliseconds(1)...Duration.seconds(60)) ?? .milliseconds(500)
        let byteTimeout = reader.duration("byteTimeout", in: Duration.milliseconds(1)...Duration.seconds(10)) ?? .milliseconds(100)
        let interFrameDelay = reader.duration("interFrameDelay", in: .zero...Duration.seconds(10))
        let trace = reader.bool("trace") ?? false
        var kind: BusSettings.Kind?
        var characterTimes = true
        switch type {
        case "rtu":
            let device = reader.string("device", required: true, expected: "a tty path such as /dev/ttyUSB0", valid: { !$0.isEmpty })
            let line = serialLine(&reader)
            if let device { kind = .rtu(device: device, line: line) }
        case "tcp":
            let host = reader.string("host", required: true, expected: "a host name or address", valid: { !$0.isEmpty })
            let port = reader.integer("port", in: 1...65535) ?? 502
            if let host { kind = .tcp(host: host, port: UInt16(port)) }
        case "rtu-over-tcp":
            kind = rtuOverTCP(&reader)
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
            characterTimes = reader.bool("characterTimes") ?? true
        default:
            break
        }
        let server = reader.object("server").flatMap(busServer)  // ConfigParser+Server.swift
        reader.finish()
        guard let id, let kind else { return nil }
        var settings = BusSettings(id: id, kind: kind, responseTimeout: responseTimeout, byteTimeout: byteTimeout,
                                   interFrameDelay: interFrameDelay, trace: trace)
        settings.server = server
        settings.simulatedCharacterTimes = characterTimes
        return settings
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
        if let framing = lineFraming(&reader) { line.framing = framing }
        return line
    }

    /// Ids unique (registries and devices together), devices on known buses at valid and distinct units.
    private func crossCheck(_ config: GatewayConfig) {
        var busPaths: [String: Int] = [:]
        for (index, bus) in config.buses.enumerated() {
            if let first = busPaths[bus.id] { log.report("$.buses[\(index)].id", "\"\(bus.id)\" is already the id of $.buses[\(first)]") }
            busPaths[bus.id] = busPaths[bus.id] ?? index
        }
        // A username names one entity: registry and device ids share one space.
        var entityPaths: [String: String] = [:]
        var units: [String: String] = [:]
        for registry in config.registries {
            if let other = entityPaths[registry.id] { log.report("\(registry.path).id", "\"\(registry.id)\" is already the id of \(other)") }
            entityPaths[registry.id] = entityPaths[registry.id] ?? registry.path
            var names: [String: String] = [:]
            for device in registry.devices {
                if let other = entityPaths[device.id] { log.report("\(device.path).id", "\"\(device.id)\" is already the id of \(other)") }
                entityPaths[device.id] = entityPaths[device.id] ?? device.path
                if let other = names[device.name] { log.report("\(device.path).name", "\"\(device.name)\" is already the name of \(other) in this registry") }
                names[device.name] = names[device.name] ?? device.path
                guard let modbus = device.modbus, let bus = config.bus(modbus.bus) else { continue }  // reported with the device
                checkUnit(device, modbus.unit, on: bus)
                let key = "\(bus.id)/\(modbus.unit)"
                if let other = units[key] { log.report("\(device.path).unit", "unit \(modbus.unit) on bus \"\(bus.id)\" is already \(other)") }
                units[key] = units[key] ?? device.path
            }
            checkAliasPrefixes(registry)
        }
        for listener in config.broker.listeners {
            guard let entity = listener.anonymousAs, entityPaths[entity] == nil else { continue }
            log.report("\(listener.path).anonymousAs", "found \"\(entity)\", expected the id of a registry or device of this config")
        }
    }

    private func checkUnit(_ device: DeviceSettings, _ unit: UInt8, on bus: BusSettings) {
        // A unit that was not a number 0...255 is reported already.
        if log.problems.contains(where: { $0.path == "\(device.path).unit" }) { return }
        switch bus.kind {
        case .tcp:
            break
        case .rtu, .rtuOverTCP:
            if !(1...247).contains(unit) {
                log.report("\(device.path).unit", "found \(unit), expected a unit id 1...247 on the serial bus \"\(bus.id)\"")
            }
        case let .simulator(units, _):
            if !units.contains(unit) {
                log.report("\(device.path).unit", "found \(unit), expected one of the simulated units of bus \"\(bus.id)\" (\(units.map(String.init).joined(separator: ", ")))")
            }
        }
    }
}
