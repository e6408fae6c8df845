/// What is wrong with a value, a mapping or a configuration, and where: one problem or several
/// (a file's every error is reported together).
package struct MappingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// One thing wrong, at one place.
    package struct Problem: Equatable, Sendable, CustomStringConvertible {
        /// The file, if the problem comes from one.
        package var file: String?
        /// The JSON path (`$.devices[2].unit`) or the argument, if known.
        package var path: String?
        package var message: String

        package init(file: String? = nil, path: String? = nil, _ message: String) {
            self.file = file
            self.path = path
            self.message = message
        }

        package var description: String {
            let location = [file, path].compactMap { $0 }.joined(separator: ": ")
            return location.isEmpty ? message : "\(location): \(message)"
        }
    }

    /// At least one.
    package var problems: [Problem]

    package init(file: String? = nil, path: String? = nil, _ message: String) {
        problems = [Problem(file: file, path: path, message)]
    }

    package init(problems: [Problem]) {
        precondition(!problems.isEmpty, "a MappingError holds at least one problem")
        self.problems = problems
    }

    /// The first problem's message (the only one for a single-value error).
    package var message: String { problems[0].message }

    /// One problem per line.
    package var description: String { problems.map(\.description).joined(separator: "\n") }
}
