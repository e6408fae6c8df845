extension Modbridge {
    /// What a command line asks for, once parsed and validated and before anything runs.
    package enum Invocation: Sendable {
        /// No command: the overview goes to standard error, exit status 64.
        case missingCommand
        /// `--help` of modbridge or of a command, or `--version`: this text goes to standard output, exit status 0.
        case help(String)
        /// A first argument that names no command: exit status 64.
        case unknownCommand(String)
        /// A command whose arguments parsed and validated, ready to run.
        case command(any Command)
    }

    /// Parses and validates a command line without running anything; a `UsageError` (exit
    /// status 64) names the argument that is wrong.
    package static func parse(_ arguments: [String]) throws(UsageError) -> Invocation {
        guard let name = arguments.first else { return .missingCommand }
        if name == "--help" || name == "-h" || name == "help" { return .help(overview) }
        if name == "--version" || name == "version" { return .help("modbridge \(ModbridgeVersion.current)\n") }
        guard let command = commands.first(where: { $0.name == name }) else { return .unknownCommand(name) }
        var reader = ArgumentReader(command: name, arguments: Array(arguments.dropFirst()))
        if reader.wantsHelp { return .help(command.help) }
        let parsed = try command.init(parsing: &reader)
        try reader.finish()
        try parsed.validate()
        return .command(parsed)
    }
}
