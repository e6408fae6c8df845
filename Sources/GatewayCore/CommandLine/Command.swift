import POSIX

/// A subcommand as a value: parsed from arguments, validated, then run.
package protocol Command: Sendable {
    static var name: String { get }
    /// One line for the command list.
    static var summary: String { get }
    /// The full `--help` text.
    static var help: String { get }

    /// Reads the command's arguments; syntax errors only.
    init(parsing arguments: inout ArgumentReader) throws(UsageError)
    /// Checks the arguments against each other.
    func validate() throws(UsageError)
    /// Does the work, logging to `logger`; returns the exit status.
    func run(logger: Logger) async -> Int32
}

extension Command {
    package func validate() throws(UsageError) {}
}

/// Exit statuses, after sysexits.h.
package enum ExitStatus {
    package static let success: Int32 = 0
    /// The command ran and failed (a Modbus error, a line that would not open).
    package static let failure: Int32 = 1
    /// The command line was wrong.
    package static let usage: Int32 = 64
}

/// The `modbridge` command: picks a subcommand and runs it.
package enum Modbridge {
    package static let commands: [any Command.Type] = [RunCommand.self, CheckCommand.self, ReadCommand.self, WriteCommand.self, ScanCommand.self, SimulateCommand.self, BrokerCommand.self, PasswdCommand.self]

    package static var overview: String {
        var text = """
        modbridge — a Modbus RTU/TCP gateway to MQTT

        Usage: modbridge <command> [options]

        Commands:

        """
        for command in commands {
            text += "  " + command.name.padding(to: 10) + command.summary + "\n"
        }
        text += "\nRun 'modbridge <command> --help' for a command's options; 'modbridge --version' prints the version.\n"
        return text
    }

    /// Runs the command line `arguments` (without the program name); returns the exit status.
    package static func main(_ arguments: [String]) async -> Int32 {
        let invocation: Invocation
        do {
            invocation = try parse(arguments)
        } catch {
            Output.error("\(error)\nRun 'modbridge \(error.command) --help' for usage.\n")
            return ExitStatus.usage
        }
        switch invocation {
        case .missingCommand:
            Output.error(overview)
            return ExitStatus.usage
        case let .help(text):
            Output.print(text)
            return ExitStatus.success
        case let .unknownCommand(name):
            Output.error("modbridge: \(name): unknown command\n\n" + overview)
            return ExitStatus.usage
        case let .command(command):
            // One writer thread for the process's log lines; if it cannot start, lines are
            // written by the caller instead (they are not lost).
            let log = try? StandardErrorLog()
            let logger = log?.logger() ?? Logger { record in Output.error(record.line) }
            let status = await command.run(logger: logger)
            // The command's last lines must reach stderr before the process exits.
            logger.flush()
            return status
        }
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
