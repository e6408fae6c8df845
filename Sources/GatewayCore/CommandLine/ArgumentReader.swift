/// A command-line mistake: which argument, and what is wrong with it. Exit status 64.
package struct UsageError: Error, CustomStringConvertible {
    package let command: String
    package let argument: String
    package let message: String

    package var description: String { "modbridge \(command): \(argument): \(message)" }
}

/// Takes options and positional arguments off a command line, each once.
///
/// Options are `--name value` or `--name=value`; flags are `--name`. Whatever is left when the
/// command has read everything it knows is an error naming that argument.
package struct ArgumentReader {
    let command: String
    private var remaining: [String]

    init(command: String, arguments: [String]) {
        self.command = command
        self.remaining = arguments
    }

    func error(_ argument: String, _ message: String) -> UsageError {
        UsageError(command: command, argument: argument, message: message)
    }

    /// True if `--help` or `-h` is present.
    var wantsHelp: Bool { remaining.contains("--help") || remaining.contains("-h") }

    /// The value of `--name`, if given.
    mutating func value(_ name: String) throws(UsageError) -> String? {
        let found = try values(name)
        guard found.count <= 1 else { throw error("--" + name, "given more than once") }
        return found.first
    }

    /// Every value of a repeatable `--name`, in the order given.
    mutating func values(_ name: String) throws(UsageError) -> [String] {
        let option = "--" + name
        var found: [String] = []
        var index = 0
        while index < remaining.count {
            let argument = remaining[index]
            if argument == option {
                guard index + 1 < remaining.count, !remaining[index + 1].hasPrefix("--") else {
                    throw error(option, "needs a value")
                }
                found.append(remaining[index + 1])
                remaining.removeSubrange(index...index + 1)
            } else if argument.hasPrefix(option + "=") {
                found.append(String(argument.dropFirst(option.count + 1)))
                remaining.remove(at: index)
            } else {
                index += 1
            }
        }
        return found
    }

    /// The value of `--name`, which must be given.
    mutating func required(_ name: String) throws(UsageError) -> String {
        guard let text = try value(name) else { throw error("--" + name, "is required") }
        return text
    }

    /// True if the flag `--name` is present.
    mutating func flag(_ name: String) -> Bool {
        let before = remaining.count
        remaining.removeAll { $0 == "--" + name }
        return remaining.count != before
    }

    /// An integer option within `range`.
    mutating func integer<Value: FixedWidthInteger>(_ name: String, in range: ClosedRange<Value>) throws(UsageError) -> Value? {
        guard let text = try value(name) else { return nil }
        guard let number = Value(text), range.contains(number) else {
            throw error("--" + name, "'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// An integer option that must be given.
    mutating func requiredInteger<Value: FixedWidthInteger>(_ name: String, in range: ClosedRange<Value>, _ hint: String) throws(UsageError) -> Value {
        guard let number = try integer(name, in: range) else { throw error("--" + name, "is required (\(hint))") }
        return number
    }

    /// A choice option that must be given.
    mutating func requiredChoice<Choice: RawRepresentable & CaseIterable>(_ name: String, of type: Choice.Type, _ hint: String) throws(UsageError) -> Choice
        where Choice.RawValue == String {
        guard let choice = try choice(name, of: type) else { throw error("--" + name, "is required (\(hint))") }
        return choice
    }

    /// An option whose value is one of an enumeration's raw values.
    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, of type: Choice.Type) throws(UsageError) -> Choice?
        where Choice.RawValue == String {
        guard let text = try value(name) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw error("--" + name, "'\(text)' is not one of \(allowed)")
        }
        return choice
    }

    /// A duration given in milliseconds.
    mutating func milliseconds(_ name: String, in range: ClosedRange<Int64>) throws(UsageError) -> Duration? {
        try integer(name, in: range).map { .milliseconds($0) }
    }

    /// The next positional argument (read after all options).
    mutating func positional(_ name: String) throws(UsageError) -> String {
        guard let index = remaining.firstIndex(where: { !$0.hasPrefix("--") }) else {
            throw error(name, "is required")
        }
        return remaining.remove(at: index)
    }

    /// Takes every argument left, for a command that must refuse them without echoing them.
    mutating func takeRemaining() -> [String] {
        defer { remaining = [] }
        return remaining
    }

    /// Fails on the first argument nobody took.
    func finish() throws(UsageError) {
        guard let first = remaining.first else { return }
        if first.hasPrefix("--") { throw error(first, "unknown option") }
        throw error(first, "unexpected argument")
    }
}
