import Foundation
import TestSupport

/// Seeded, reproducible mutations of a JSON file, for the config fuzz probe: the same seed gives the
/// same mutated text, so a failure names its seed and can be replayed.
struct ConfigMutation: CustomStringConvertible {
    enum Kind: String, CaseIterable {
        case byteFlip, deletion, insertion, truncation, keyDuplication, extremeNumber, hugeDuration, oddString, typeSwap
    }

    let file: String
    let kind: Kind
    let seed: UInt64
    let bytes: [UInt8]

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// What a failure prints: enough to replay it, and the mutated text itself.
    var description: String {
        "mutation \(kind.rawValue) seed \(seed) of \(file):\n\(text.count > 4000 ? String(text.prefix(4000)) + "…" : text)"
    }

    /// Numbers past every limit the loader has (and JSON's own).
    static let extremeNumbers = ["1e19", "-1", "1e400", "18446744073709551616", "0.0000001", "NaN", "-0", "9223372036854775808",
                                 "-9223372036854775809", "1e-400", "-1e308", "Infinity", "0", "65536", "1.5"]
    /// Numbers past what a duration in milliseconds can be converted from.
    static let hugeNumbers = ["1e19", "18446744073709551616", "9223372036854775808", "1e16"]
    /// Strings no field expects.
    static let oddStrings = ["\"\"", "\"" + String(repeating: "x", count: 5000) + "\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\\ud800\"",
                             "\"é€😀\"", "\"1e19ms\"", "\"-1s\"", "\"NaNs\"", "\"9999999999h\"", "\"$devices/#\"", "\"a/b+c\"",
                             "\"../../..\"", "\"/\"", "\" \"", "\"0x\"", "\"0xFFFFFFFFFFFFFFFFFF\"", "\"\\\"\""]
    /// Values of another type (and deeper nesting); a type swap may also put an extreme number
    /// where a string was (a duration written "1s" becomes 1e19).
    static let otherValues = ["{}", "[]", "null", "true", "false", "\"1\"", "1", "[[[[1]]]]", "{\"a\": {\"b\": {}}}", "[{}]"]
    /// Bytes and fragments an insertion puts anywhere.
    static let fragments: [[UInt8]] = ["{", "}", "[", "]", ",", ":", "\"", "\\", " null", "1e400", "\"\\ud800\"", "//", "'"].map { Array($0.utf8) }
        + [[0x00], [0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xEF, 0xBB, 0xBF]]

    /// The mutation `kind` of `original` that `seed` picks.
    static func make(_ kind: Kind, of original: [UInt8], file: String, seed: UInt64) -> ConfigMutation {
        var random = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(Kind.allCases.firstIndex(of: kind) ?? 0))
        var bytes = original
        let tokens = JSONTokens(bytes)
        switch kind {
        case .byteFlip:
            for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            }
        case .deletion:
            let start = Int.random(in: 0..<max(1, bytes.count), using: &random)
            bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...16, using: &random)))
        case .insertion:
            let fragment = fragments[Int.random(in: 0..<fragments.count, using: &random)]
            bytes.insert(contentsOf: fragment, at: Int.random(in: 0...bytes.count, using: &random))
        case .truncation:
            bytes.removeSubrange(Int.random(in: 0..<max(1, bytes.count), using: &random)...)
        case .keyDuplication:
            // The member again, before the original: the same key twice in one object.
            if let key = tokens.keys.randomElement(using: &random) {
                let value = (otherValues + extremeNumbers).randomElement(using: &random) ?? "1"
                bytes.insert(contentsOf: Array(original[key]) + Array(": \(value), ".utf8), at: key.lowerBound)
            }
        case .extremeNumber:
            if let number = tokens.numbers.randomElement(using: &random) {
                bytes.replaceSubrange(number, with: Array((extremeNumbers.randomElement(using: &random) ?? "1e19").utf8))
            }
        case .hugeDuration:
            // A duration ("150ms", or a number) becomes a number no Duration holds in Int64 microseconds.
            let durations = tokens.strings.filter { isDuration(original[$0]) }
            if let duration = durations.randomElement(using: &random) ?? tokens.numbers.randomElement(using: &random) {
                bytes.replaceSubrange(duration, with: Array((hugeNumbers.randomElement(using: &random) ?? "1e19").utf8))
            }
        case .oddString:
            if let string = tokens.strings.randomElement(using: &random) {
                bytes.replaceSubrange(string, with: Array((oddStrings.randomElement(using: &random) ?? "\"\"").utf8))
            }
        case .typeSwap:
            if let value = (tokens.strings + tokens.numbers + tokens.literals).randomElement(using: &random) {
                bytes.replaceSubrange(value, with: Array(((otherValues + extremeNumbers).randomElement(using: &random) ?? "null").utf8))
            }
        }
        return ConfigMutation(file: file, kind: kind, seed: seed, bytes: bytes)
    }

    /// A JSON string such as "150ms", "1.5s", "2m", "1h".
    private static func isDuration(_ text: ArraySlice<UInt8>) -> Bool {
        let inner = String(decoding: text.dropFirst().dropLast(), as: UTF8.self)
        return inner.range(of: #"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$"#, options: .regularExpression) != nil
    }

    /// `count` mutations of each kind of `original`, seeds 1...count.
    static func all(of original: [UInt8], file: String, count: Int) -> [ConfigMutation] {
        Kind.allCases.flatMap { kind in (1...UInt64(count)).map { make(kind, of: original, file: file, seed: $0) } }
    }
}

/// Where the keys, value strings, numbers and literals of a JSON text are (a small scanner: the
/// shipped files are valid JSON, so it need not handle errors).
struct JSONTokens {
    var keys: [Range<Int>] = []
    var strings: [Range<Int>] = []
    var numbers: [Range<Int>] = []
    var literals: [Range<Int>] = []

    init(_ bytes: [UInt8]) {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                var end = index + 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
                end = min(end + 1, bytes.count)
                var next = end
                while next < bytes.count, bytes[next] == 0x20 || bytes[next] == 0x0A || bytes[next] == 0x09 || bytes[next] == 0x0D { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: ":") { keys.append(index..<end) } else { strings.append(index..<end) }
                index = end
            } else if byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) {
                var end = index
                while end < bytes.count, "-+.eE0123456789".utf8.contains(bytes[end]) { end += 1 }
                numbers.append(index..<end)
                index = end
            } else if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") {
                var end = index
                while end < bytes.count, bytes[end] >= UInt8(ascii: "a") && bytes[end] <= UInt8(ascii: "z") { end += 1 }
                literals.append(index..<end)
                index = end
            } else {
                index += 1
            }
        }
    }
}

/// The shipped files the probe mutates.
enum ShippedFiles {
    static var examples: [String] { files(in: "examples") }
    static var profiles: [String] { files(in: "mappings") }

    private static func files(in folder: String) -> [String] {
        let path = CheckCommandTests.repository + "/" + folder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { path + "/" + $0 }
    }

    static func bytes(_ file: String) -> [UInt8] {
        Array((try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data())
    }
}
