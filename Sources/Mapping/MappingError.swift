/// What is wrong with a value, a mapping or a configuration, and where.
public struct MappingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file, if the error comes from one.
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
