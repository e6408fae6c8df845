/// A subcommand as a value: parsed from arguments, validated, then run.
protocol Command: Sendable {
    static var name: String { get }
    /// One line for the command list.
    static var summary: String { get }
    /// The full `--help` text.
    static var help: String { get }

    /// Reads the command's arguments; syntax errors only.
    init(parsing arguments: inout ArgumentReader) throws(UsageError)
    /// Checks the arguments against each other.
    func validate() throws(UsageError)
    /// Does the work; returns the exit status.
    func run() async -> Int32
}

extension Command {
    func validate() throws(UsageError) {}
}

/// Exit statuses, after sysexits.h.
enum ExitStatus {
    static let success: Int32 = 0
    /// The command ran and failed (a Modbus error, a line that would not open).
    static let failure: Int32 = 1
    /// The command line was wrong.
    static let usage: Int32 = 64
}

/// The `modbridge` command: picks a subcommand and runs it.
enum Modbridge {
    static let commands: [any Command.Type] = [RunCommand.self, CheckCommand.self, ReadCommand.self, WriteCommand.self, SimulateCommand.self, BrokerCommand.self]

    static var overview: String {
        var text = """
        modbridge — a Modbus RTU/TCP gateway to MQTT

        Usage: modbridge <command> [options]

        Commands:

        """
        for command in commands {
            text += "  " + command.name.padding(to: 10) + command.summary + "\n"
        }
        text += "\nRun 'modbridge <command> --help' for a command's options.\n"
        return text
    }

    static func main(_ arguments: [String]) async -> Int32 {
        guard let name = arguments.first else {
            Output.error(overview)
            return ExitStatus.usage
        }
        if name == "--help" || name == "-h" || name == "help" {
            Output.print(overview)
            return ExitStatus.success
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            Output.error("modbridge: \(name): unknown command\n\n" + overview)
            return ExitStatus.usage
        }
        var reader = ArgumentReader(command: name, arguments: Array(arguments.dropFirst()))
        if reader.wantsHelp {
            Output.print(command.help)
            return ExitStatus.success
        }
        do {
            let parsed = try command.init(parsing: &reader)
            try reader.finish()
            try parsed.validate()
            return await parsed.run()
        } catch {
            Output.error("\(error)\nRun 'modbridge \(name) --help' for usage.\n")
            return ExitStatus.usage
        }
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
