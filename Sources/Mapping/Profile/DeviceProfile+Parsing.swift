extension DeviceProfile {
    /// Parses and validates a profile file's contents; every problem is reported at once.
    package static func parse(_ bytes: some Sequence<UInt8>, file: String?) throws(MappingError) -> DeviceProfile {
        try parse(try JSONValue.parse(bytes, file: file), file: file)
    }

    /// Reads, parses and validates the profile file at `path` (`modbridge scan --profile`).
    package static func load(file path: String) throws(MappingError) -> DeviceProfile {
        try parse(try ConfigurationLoader.read(path), file: path)
    }

    /// Validates a profile tree (a file, or a profile merged with a device's overrides).
    package static func parse(_ value: JSONValue, file: String?) throws(MappingError) -> DeviceProfile {
        let log = ProblemLog(file: file)
        let profile = ProfileParser(log: log).profile(value)
        try log.check()
        guard let profile else { throw MappingError(file: file, "not a profile") }
        return profile
    }
}

extension DeviceProfile: Decodable {
    /// Decodes through the validating parser: a `DecodingError` holding the `MappingError` with
    /// every problem if the profile is not valid.
    package init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        do {
            self = try DeviceProfile.parse(value, file: nil)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }
}
