/// What is wrong with a value, a mapping or a configuration, and where: one problem or several
/// (a file's every error is reported together).
public struct MappingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// One thing wrong, at one place.
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        /// The file, if the problem comes from one.
        public var file: String?
        /// The JSON path (`$.devices[2].unit`) or the argument, if known.
        public var path: String?
        public var message: String

        public init(file: String? = nil, path: String? = nil, _ message: String) {
            self.file = file
            self.path = path
            self.message = message
        }

        public var description: String {
            let location = [file, path].compactMap { $0 }.joined(separator: ": ")
            return location.isEmpty ? message : "\(location): \(message)"
        }
    }

    /// At least one.
    public var problems: [Problem]

    public init(file: String? = nil, path: String? = nil, _ message: String) {
        problems = [Problem(file: file, path: path, message)]
    }

    public init(problems: [Problem]) {
        precondition(!problems.isEmpty, "a MappingError holds at least one problem")
        self.problems = problems
    }

    /// The first problem's message (the only one for a single-value error).
    public var message: String { problems[0].message }

    /// One problem per line.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
