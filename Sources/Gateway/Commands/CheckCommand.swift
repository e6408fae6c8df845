import Mapping

/// `modbridge check`: validates a gateway config and every profile it uses, opening nothing.
struct CheckCommand: Command {
    static let name = "check"
    static let summary = "validate a gateway config and its device profiles"
    static let help = """
    Usage: modbridge check CONFIG

    Reads the gateway config (modbridge.json) and every device profile it names, and checks them
    together without opening a port or a line. Prints every problem, one per line, as
    FILE: JSON-PATH: what was found, what was expected; exit status 1 if there is any, 0 (with
    a summary of the buses and devices) if there is none.
    """

    let configFile: String

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        configFile = try arguments.positional("CONFIG")
    }

    func run() async -> Int32 {
        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader.load(configFile: configFile)
        } catch {
            Self.reportProblems(error, in: configFile)
            return ExitStatus.failure
        }
        for warning in loaded.warnings { Output.error("warning: \(warning)\n") }
        var text = "\(configFile): OK — \(Self.count(loaded.config.buses.count, "bus", plural: "buses")), "
        text += "\(Self.count(loaded.devices.count, "device")), \(Self.count(loaded.profiles.count, "profile")) loaded\n"
        for device in loaded.devices {
            let readable = device.profile.points.filter(\.access.isReadable).count
            let writable = device.profile.points.filter(\.access.isWritable).count
            text += "  \(device.registry)/\(device.settings.id): bus \(device.bus.id) unit \(device.settings.unit), "
            text += "profile \(device.profile.model)\(device.settings.overrides == nil ? "" : " with overrides"), "
            text += "\(readable) polled and \(Self.count(writable, "writable point")), \(Self.count(device.profile.commands.count, "command"))\n"
        }
        Output.print(text)
        return ExitStatus.success
    }

    /// Every problem of a config that is refused, one per line, and how many there were.
    static func reportProblems(_ error: MappingError, in configFile: String) {
        Output.error(error.description + "\n\(configFile): \(count(error.problems.count, "problem")); nothing was started\n")
    }

    /// "1 device", "3 devices".
    private static func count(_ number: Int, _ noun: String, plural: String? = nil) -> String {
        "\(number) \(number == 1 ? noun : plural ?? noun + "s")"
    }
}
