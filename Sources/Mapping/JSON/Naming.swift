/// The character rules for ids, names and keys in config files and profiles (ASCII only).
enum Naming {
    private static func isLowercase(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    private static func isLetter(_ byte: UInt8) -> Bool { isLowercase(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Point, flag and label names: `[a-z][a-z0-9_]*`, at most 32 characters.
    static func isPointName(_ text: String) -> Bool {
        guard let first = text.utf8.first, isLowercase(first), text.utf8.count <= 32 else { return false }
        return text.utf8.allSatisfy { isLowercase($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// Profile models: `[a-z0-9][a-z0-9-]*`, at most 64 characters.
    static func isModel(_ text: String) -> Bool {
        guard let first = text.utf8.first, first != UInt8(ascii: "-"), text.utf8.count <= 64 else { return false }
        return text.utf8.allSatisfy { isLowercase($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
    }

    /// Registry and device ids (IOT-CORE.md): 1–50 of `[a-zA-Z0-9_-]`.
    static func isID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 50
            && text.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Device names (IOT-CORE.md): 3–63 of lowercase letters, digits and `-`.
    static func isDeviceName(_ text: String) -> Bool {
        (3...63).contains(text.utf8.count) && text.utf8.allSatisfy { isLowercase($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
    }

    /// Keys a JSON path can show as `.key` rather than `["key"]`: `[A-Za-z0-9_]+`.
    static func isPlainKey(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    static let pointNameRule = "a name of lowercase letters, digits and '_', starting with a letter, at most 32 characters"
}
