/// Collects the problems of one file while its tree is walked.
final class ProblemLog {
    let file: String?
    private(set) var problems: [MappingError.Problem] = []

    init(file: String?) {
        self.file = file
    }

    func report(_ path: String, _ message: String) {
        problems.append(MappingError.Problem(file: file, path: path, message))
    }

    /// "found X, expected Y" at `path`.
    func mismatch(_ path: String, found: JSONValue, expected: String) {
        report(path, "found \(found.shortDescription), expected \(expected)")
    }

    /// Throws every problem reported so far, if any.
    func check() throws(MappingError) {
        if !problems.isEmpty { throw MappingError(problems: problems) }
    }
}

/// Reads the fields of one JSON object at `path`: each accessor reports what is wrong and returns
/// nil, so a walk goes on and finds every problem; `finish` reports keys nobody asked for.
struct ObjectReader {
    let path: String
    let log: ProblemLog
    private let fields: [String: JSONValue]
    private var used: Set<String> = ["$schema"]

    /// Nil (reported) if `value` is not an object.
    init?(_ value: JSONValue, path: String, log: ProblemLog) {
        guard case let .object(fields) = value else {
            log.mismatch(path, found: value, expected: "an object")
            return nil
        }
        self.fields = fields
        self.path = path
        self.log = log
    }

    func childPath(_ key: String) -> String { Self.path(path, key) }

    /// The raw value of `key` (null counts as absent); reports a missing required key.
    mutating func value(_ key: String, required: Bool = false, expected: String = "a value") -> JSONValue? {
        used.insert(key)
        guard let value = fields[key], value != .null else {
            if required { log.report(childPath(key), "missing, expected \(expected)") }
            return nil
        }
        return value
    }

    mutating func string(_ key: String, required: Bool = false, expected: String = "a string",
                         valid: ((String) -> Bool)? = nil) -> String? {
        guard let value = value(key, required: required, expected: expected) else { return nil }
        guard case let .string(text) = value, valid?(text) ?? true else {
            log.mismatch(childPath(key), found: value, expected: expected)
            return nil
        }
        return text
    }

    mutating func bool(_ key: String, required: Bool = false) -> Bool? {
        guard let value = value(key, required: required, expected: "true or false") else { return nil }
        guard case let .bool(flag) = value else {
            log.mismatch(childPath(key), found: value, expected: "true or false")
            return nil
        }
        return flag
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int64>, required: Bool = false, expected: String? = nil) -> Int64? {
        let wanted = expected ?? "an integer \(range.lowerBound)...\(range.upperBound)"
        guard let value = value(key, required: required, expected: wanted) else { return nil }
        guard case let .integer(number) = value, range.contains(number) else {
            log.mismatch(childPath(key), found: value, expected: wanted)
            return nil
        }
        return number
    }

    mutating func number(_ key: String, required: Bool = false, expected: String = "a number", valid: ((Double) -> Bool)? = nil) -> Double? {
        guard let value = value(key, required: required, expected: expected) else { return nil }
        guard let number = value.numberValue, number.isFinite, valid?(number) ?? true else {
            log.mismatch(childPath(key), found: value, expected: expected)
            return nil
        }
        return number
    }

    mutating func duration(_ key: String, in range: ClosedRange<Duration>, required: Bool = false) -> Duration? {
        let expected = "a duration \(DurationText.format(range.lowerBound))...\(DurationText.format(range.upperBound)) (milliseconds, or a string such as \"500ms\", \"2s\", \"1m\")"
        guard let value = value(key, required: required, expected: expected) else { return nil }
        guard let duration = DurationText.parse(value), range.contains(duration) else {
            log.mismatch(childPath(key), found: value, expected: expected)
            return nil
        }
        return duration
    }

    /// One of `choices` (the allowed strings).
    mutating func choice(_ key: String, _ choices: [String], required: Bool = false) -> String? {
        string(key, required: required, expected: "one of " + choices.joined(separator: ", "), valid: choices.contains)
    }

    mutating func array(_ key: String, required: Bool = false, nonEmpty: Bool = false) -> [(JSONValue, String)]? {
        let expected = nonEmpty ? "a non-empty array" : "an array"
        guard let value = value(key, required: required, expected: expected) else { return nil }
        guard case let .array(items) = value, !(nonEmpty && items.isEmpty) else {
            log.mismatch(childPath(key), found: value, expected: expected)
            return nil
        }
        let base = childPath(key)
        return items.enumerated().map { ($0.element, "\(base)[\($0.offset)]") }
    }

    mutating func object(_ key: String, required: Bool = false) -> ObjectReader? {
        guard let value = value(key, required: required, expected: "an object") else { return nil }
        return ObjectReader(value, path: childPath(key), log: log)
    }

    /// The object's members in key order, each with its path.
    mutating func members(_ key: String) -> [(String, JSONValue, String)]? {
        guard let value = value(key, expected: "an object") else { return nil }
        guard case let .object(fields) = value else {
            log.mismatch(childPath(key), found: value, expected: "an object")
            return nil
        }
        let base = childPath(key)
        return fields.keys.sorted().map { name in
            (name, fields[name] ?? .null, ObjectReader.path(base, name))
        }
    }

    /// Reports every key that no accessor read (a misspelt key is an error, not ignored).
    func finish() {
        for key in fields.keys.sorted() where !used.contains(key) {
            let suggestion = Self.closest(to: key, among: Array(used)).map { " (did you mean '\($0)'?)" } ?? ""
            log.report(childPath(key), "unknown key\(suggestion)")
        }
    }

    static func path(_ base: String, _ key: String) -> String {
        Naming.isPlainKey(key) ? "\(base).\(key)" : "\(base)[\"\(key)\"]"
    }

    /// The known key within edit distance 2 of `key`, if there is one.
    private static func closest(to key: String, among candidates: [String]) -> String? {
        let lowered = Array(key.lowercased().utf8)
        var best: (String, Int)?
        for candidate in candidates where candidate != "$schema" {
            let distance = editDistance(lowered, Array(candidate.lowercased().utf8))
            if distance <= 2, distance < (best?.1 ?? .max) { best = (candidate, distance) }
        }
        return best?.0
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + [Int](repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
