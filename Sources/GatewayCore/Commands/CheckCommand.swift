import Broker
import Mapping
import POSIX

/// `modbridge check`: validates a gateway config and every profile it uses, opening nothing.
package struct CheckCommand: Command {
    package static let name = "check"
    package static let summary = "validate a gateway config and its device profiles"
    package static let help = """
    Usage: modbridge check [--plan] CONFIG

    Reads the gateway config (modbridge.json) and every device profile it names, and checks them
    together without opening a port or a line. Prints every problem, one per line, as
    FILE: JSON-PATH: what was found, what was expected; exit status 1 if there is any, 0 (with
    a summary of the buses and devices) if there is none. Certificate files, password hashes,
    TLS listeners' certificate and key, the upstream CA, client certificates and password files
    are loaded and checked too.
    The summary gives the upstream broker and its connections, each polled device's points and
    the read requests per cycle the planner makes of them, and each MQTT device's aliases and
    credentials.

      --plan                   also list each device's read requests: interval, request, points;
                               and each serial bus's predicted poll cycle (docs/cycle-time.md)
    """

    package let configFile: String
    package let listsPlan: Bool

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        listsPlan = arguments.flag("plan")
        configFile = try arguments.positional("CONFIG")
    }

    package func run(logger: Logger) async -> Int32 {
        let gateway: LoadedGateway
        do {
            gateway = try RegistryLoader.load(configFile: configFile)
        } catch {
            Self.reportProblems(error, in: configFile)
            return ExitStatus.failure
        }
        let loaded = gateway.configuration
        for warning in loaded.warnings { Output.error("warning: \(warning)\n") }
        let mqttDevices = gateway.registry.registries.flatMap { registry in registry.devices.filter { !$0.isGatewayDevice }.map { (registry, $0) } }
        var text = "\(configFile): OK — \(Self.count(loaded.config.buses.count, "bus", plural: "buses")), "
        text += "\(Self.count(loaded.devices.count, "device")), \(Self.count(loaded.profiles.count, "profile")) loaded; "
        text += "\(Self.count(gateway.registry.registries.count, "registry", plural: "registries")), \(Self.count(mqttDevices.count, "MQTT device")), "
        text += "\(Self.count(gateway.listeners.filter { $0.tls != nil }.count, "TLS listener"))\n"
        if let upstream = loaded.config.broker.upstream { text += Self.upstreamLine(upstream, devices: loaded.devices.count) }
        for listener in gateway.listeners { text += Self.httpListenerLine(listener.configuration) }
        for device in loaded.devices {
            let profile = device.profile
            let plan = PollPlan(profile: profile, start: .now)
            let readable = profile.points.filter(\.access.isReadable).count
            let writable = profile.points.filter(\.access.isWritable).count
            text += "  \(device.registry)/\(device.settings.id): bus \(device.bus.id) unit \(device.unit), "
            text += "profile \(profile.model)\(device.settings.modbus?.overrides == nil ? "" : " with overrides"), "
            text += "\(Self.count(readable, "polled point")) in \(Self.count(plan.requestsPerCycle, "read request")) per cycle, "
            text += "\(Self.count(writable, "writable point")), \(Self.count(profile.commands.count, "command"))\n"
            guard listsPlan else { continue }
            for group in plan.groups {
                for read in group.reads {
                    let names = read.points.map { profile.points[$0].name }.joined(separator: ", ")
                    text += "      every \(DurationText.format(group.interval)): \(read.request(limits: profile.limits).summary): \(names)\n"
                }
            }
        }
        for bus in loaded.config.buses {
            guard let server = bus.server else { continue }
            text += Self.serverLine(server, bus: bus.id, deviceUnits: loaded.devices.filter { $0.bus.id == bus.id }.map(\.unit))
        }
        if listsPlan { text += Self.cyclePlan(loaded) }
        for (registry, device) in mqttDevices {
            text += "  \(registry.id)/\(device.id): MQTT device, \(Self.count(device.aliases.count, "alias", plural: "aliases")), "
            text += "\(Self.count(device.credentials.passwordHashes.count, "password")), \(Self.count(device.credentials.certificates.count, "certificate"))\n"
        }
        Output.print(text)
        return ExitStatus.success
    }

    /// Every problem of a config that is refused, one per line, and how many there were.
    static func reportProblems(_ error: MappingError, in configFile: String) {
        Output.error(error.description + "\n\(configFile): \(count(error.problems.count, "problem")); nothing was started\n")
    }

    /// Where the devices' messages go upstream, and how.
    private static func upstreamLine(_ upstream: BrokerSettings.Upstream, devices: Int) -> String {
        let host = upstream.host.contains(":") ? "[\(upstream.host)]" : upstream.host
        let connections = upstream.connection == .shared ? "1 shared connection" : count(devices, "per-device connection")
        return "  upstream \(upstream.tls ? "mqtts" : "mqtt")://\(host):\(upstream.port): \(connections), topics \(upstream.deviceTopic) and \(upstream.registryTopic)\n"
    }

    /// What a bus's Modbus TCP server lets a vendor's tool reach (its units default to the bus's devices').
    private static func serverLine(_ server: BusServerSettings, bus: String, deviceUnits: [UInt8]) -> String {
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        let units = (server.units ?? deviceUnits).sorted().map(String.init).joined(separator: ",")
        let functions = server.functions.sorted().map(String.init).joined(separator: ",")
        let access = server.functions.allSatisfy { $0 <= 4 } ? "read-only" : "reads and writes"
        return "  bus \(bus): Modbus TCP server on \(host):\(server.port) for units \(units), functions \(functions) (\(access)), "
            + "at most \(count(server.maxConnections, "client"))\n"
    }

    /// "1 device", "3 devices".
    static func count(_ number: Int, _ noun: String, plural: String? = nil) -> String {
        "\(number) \(number == 1 ? noun : plural ?? noun + "s")"
    }

    /// What an HTTP listener serves, and whether the console's passwords may cross it in clear.
    static func httpListenerLine(_ listener: ListenerConfiguration) -> String {
        guard case let .http(services) = listener.kind else { return "" }
        var served: [String] = []
        if services.contains(.webSocket) { served.append("MQTT over WebSocket at /mqtt") }
        if services.contains(.console) { served.append("the console") }
        if services.contains(.metrics) { served.append("/metrics and /healthz") }
        let scheme: String
        if case .tls = listener.security {
            scheme = "HTTPS"
        } else if !services.contains(.webSocket) && !services.contains(.console) {
            scheme = "HTTP"  // no login crosses it
        } else {
            scheme = listener.insecure ? "HTTP, passwords accepted without TLS" : "HTTP, password logins refused without TLS"
        }
        return "  listener \(listener.description): \(served.joined(separator: ", ")) (\(scheme))\n"
    }
}
