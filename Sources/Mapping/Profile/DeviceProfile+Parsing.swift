import FoundationEssentials

extension DeviceProfile {
    /// Parses and validates a profile file's contents; every problem is reported at once.
    public static func parse(_ data: Data, file: String?) throws(MappingError) -> DeviceProfile {
        try parse(try JSONValue.parse(data, file: file), file: file)
    }

    /// Validates a profile tree (a file, or a profile merged with a device's overrides).
    public static func parse(_ value: JSONValue, file: String?) throws(MappingError) -> DeviceProfile {
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
    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        do {
            self = try DeviceProfile.parse(value, file: nil)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }
}

/// Names used in topics and JSON keys.
enum Naming {
    static func isPointName(_ text: String) -> Bool {
        guard let first = text.utf8.first, first >= 0x61 && first <= 0x7A, text.utf8.count <= 32 else { return false }
        return text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") }
    }

    static func isModel(_ text: String) -> Bool {
        guard let first = text.utf8.first, first != UInt8(ascii: "-"), text.utf8.count <= 64 else { return false }
        return text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }

    /// Registry and device ids (IOT-CORE.md): 1–50 of `[a-zA-Z0-9_-]`.
    static func isID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 50 && text.utf8.allSatisfy {
            ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    /// Device names (IOT-CORE.md): 3–63 of lowercase letters, digits and `-`.
    static func isDeviceName(_ text: String) -> Bool {
        (3...63).contains(text.utf8.count) && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }

    static let pointNameRule = "a name of lowercase letters, digits and '_', starting with a letter, at most 32 characters"
}
