/// A strict JSON parser (RFC 8259) working on the UTF-8 bytes of a file, so that every error says
/// where it is (line and column, 1-based; the column counts characters, that is Unicode scalars,
/// not bytes) and what was expected there, and so that what other parsers let through is refused:
/// duplicate keys (§4 leaves their meaning open; in a config one of the two would be silently
/// lost), invalid UTF-8 and lone surrogates (§8.1, §8.2), numbers beyond a Double (§6).
///
/// One pass over the bytes, no backtracking: linear in the size of the file. Nesting is limited to
/// `maximumDepth` arrays and objects (§9 allows a limit), so a hostile file cannot exhaust the stack.
/// A UTF-8 byte order mark is skipped (§8.1 allows ignoring it; editors on Windows write one).
struct JSONParser {
    static let maximumDepth = 512

    /// Where a syntax error is: a byte offset, turned into a line and column only when reported.
    struct Failure: Error {
        let offset: Int
        let message: String
    }

    enum PathComponent {
        case key(String)
        case index(Int)
    }

    let bytes: [UInt8]
    var offset = 0
    /// The keys and indexes leading to the value being parsed, for messages (`$.buses[0].port`).
    var path: [PathComponent] = []
    /// Duplicate keys found so far (parsing goes on after one, so that every one is reported).
    var duplicates: [MappingError.Problem] = []
    let file: String?
    /// Bytes of a byte order mark before the document (columns of line 1 start after it).
    var bomLength = 0

    init(bytes: [UInt8], file: String?) {
        self.bytes = bytes
        self.file = file
    }

    /// The value of the document in `bytes`; a syntax error (the first one) or every duplicate key
    /// as a `MappingError` naming `file` and the place.
    static func parse(_ bytes: [UInt8], file: String?) throws(MappingError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, file: file)
        let value: JSONValue
        do {
            value = try parser.document()
        } catch {
            throw MappingError(problems: [parser.problem(error)])
        }
        if !parser.duplicates.isEmpty { throw MappingError(problems: parser.duplicates) }
        return value
    }

    // MARK: Structure

    mutating func document() throws(Failure) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            bomLength = 3
            offset = 3
        } else if bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
            throw Failure(offset: 0, message: "the file is UTF-16 (it starts with a UTF-16 byte order mark); JSON files must be UTF-8")
        }
        skipWhitespace()
        guard offset < bytes.count else { throw Failure(offset: offset, message: "empty file, expected a JSON document") }
        let value = try self.value(after: nil)
        skipWhitespace()
        guard offset == bytes.count else {
            throw Failure(offset: offset, message: "trailing text after the document: found \(found()), expected the end of the file")
        }
        return value
    }

    /// The value at `offset` (after white space). `context` says what came before, for messages.
    mutating func value(after context: String?) throws(Failure) -> JSONValue {
        skipWhitespace()
        guard offset < bytes.count else {
            throw Failure(offset: offset, message: "unexpected end of the file, expected a value\(context.map { " after \($0)" } ?? "")")
        }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default:
            throw Failure(offset: offset, message: "expected a value (object, array, string, number, true, false or null)"
                + (context.map { " after \($0)" } ?? "") + ", found \(found())\(hint())")
        }
    }

    private mutating func object() throws(Failure) -> JSONValue {
        try enter()
        var fields: [String: JSONValue] = [:]
        var keyOffsets: [String: Int] = [:]
        skipWhitespace()
        if peek(UInt8(ascii: "}")) {
            offset += 1
            return leave(.object(fields))
        }
        var first = true
        while true {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
                let wanted = first ? "a key in double quotes or '}'" : "a key in double quotes after ','"
                let trailingComma = !first && peek(UInt8(ascii: "}")) ? " (JSON allows no comma before '}')" : hint()
                throw Failure(offset: offset, message: "expected \(wanted), found \(found())\(trailingComma)")
            }
            first = false
            let keyOffset = offset
            let key = try string()
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else {
                throw Failure(offset: offset, message: "expected ':' after the key \"\(key)\", found \(found())")
            }
            offset += 1
            path.append(.key(key))
            let member = try value(after: nil)
            path.removeLast()
            if let earlier = keyOffsets[key] {
                reportDuplicate(key, at: keyOffset, first: earlier)
            } else {
                keyOffsets[key] = keyOffset
                fields[key] = member
            }
            skipWhitespace()
            guard offset < bytes.count else {
                throw Failure(offset: offset, message: "unexpected end of the file, expected ',' or '}' after an object member")
            }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return leave(.object(fields))
            } else {
                throw Failure(offset: offset, message: "expected ',' or '}' after an object member, found \(found())")
            }
        }
    }

    private mutating func array() throws(Failure) -> JSONValue {
        try enter()
        var items: [JSONValue] = []
        skipWhitespace()
        if peek(UInt8(ascii: "]")) {
            offset += 1
            return leave(.array(items))
        }
        path.append(.index(0))
        while true {
            path[path.count - 1] = .index(items.count)
            skipWhitespace()
            if !items.isEmpty && peek(UInt8(ascii: "]")) {
                throw Failure(offset: offset, message: "expected a value after ',', found ']' (JSON allows no comma before ']')")
            }
            items.append(try value(after: items.isEmpty ? nil : "','"))
            skipWhitespace()
            guard offset < bytes.count else {
                throw Failure(offset: offset, message: "unexpected end of the file, expected ',' or ']' after an array element")
            }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                path.removeLast()
                return leave(.array(items))
            } else {
                throw Failure(offset: offset, message: "expected ',' or ']' after an array element, found \(found())")
            }
        }
    }

    /// Every duplicate key is an error; past the first 20 they are counted, not placed (placing
    /// one scans the file up to it, which must not make a file of duplicates quadratic).
    private mutating func reportDuplicate(_ key: String, at keyOffset: Int, first earlier: Int) {
        let keyPath = ObjectReader.path(currentPath, key)
        if duplicates.count < 20 {
            let (line, column) = position(of: earlier)
            let (duplicateLine, duplicateColumn) = position(of: keyOffset)
            duplicates.append(MappingError.Problem(file: file, path: keyPath,
                "duplicate key (line \(duplicateLine) column \(duplicateColumn)), first at line \(line) column \(column)"))
        } else if duplicates.count == 20 {
            duplicates.append(MappingError.Problem(file: file, path: keyPath, "duplicate key, and more after it (only the first 20 are placed)"))
        }
    }

    /// One more level of nesting (at the opening bracket), refused past `maximumDepth`.
    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw Failure(offset: offset, message: "nested deeper than \(Self.maximumDepth) arrays and objects")
        }
        offset += 1
    }

    private mutating func leave(_ value: JSONValue) -> JSONValue {
        depth -= 1
        return value
    }

    var depth = 0

    private mutating func literal(_ word: StaticString, _ value: JSONValue) throws(Failure) -> JSONValue {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - offset >= expected.count, bytes[offset..<offset + expected.count].elementsEqual(expected) else {
            throw Failure(offset: offset, message: "expected a value (object, array, string, number, true, false or null), found \(found())\(hint())")
        }
        offset += expected.count
        return value
    }

    mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    func peek(_ byte: UInt8) -> Bool {
        offset < bytes.count && bytes[offset] == byte
    }

    // MARK: Messages

    /// The JSON path of the value being parsed.
    var currentPath: String {
        var text = "$"
        for component in path {
            switch component {
            case let .key(key): text = ObjectReader.path(text, key)
            case let .index(index): text += "[\(index)]"
            }
        }
        return text
    }

    /// Line and column (1-based, the column in Unicode scalars) of the byte at `target`.
    func position(of target: Int) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = bomLength
        for index in bomLength..<min(target, bytes.count) where bytes[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        // Count scalars, not bytes: every byte but a continuation byte (10xxxxxx) starts one.
        var column = 1
        for index in lineStart..<min(target, bytes.count) where bytes[index] & 0xC0 != 0x80 { column += 1 }
        return (line, column)
    }

    /// A syntax error as a problem: the file, "line L column C", the message and where in the tree.
    func problem(_ failure: Failure) -> MappingError.Problem {
        let (line, column) = position(of: failure.offset)
        // A path deep in a hostile file is cut to its end: where the error is matters most.
        let location = currentPath
        let inside = path.isEmpty ? "" : " (in \(location.count > 120 ? "…" + location.suffix(119) : Substring(location)))"
        return MappingError.Problem(file: file, path: "line \(line) column \(column)", failure.message + inside)
    }

    /// What stands at `offset`, for "found …": the end of the file, a word, a character, or a byte.
    func found() -> String {
        guard offset < bytes.count else { return "the end of the file" }
        let byte = bytes[offset]
        if isWordByte(byte) {
            var end = offset
            while end < bytes.count, end - offset < 24, isWordByte(bytes[end]) { end += 1 }
            return "'\(String(decoding: bytes[offset..<end], as: UTF8.self))'"
        }
        if byte < 0x20 || byte == 0x7F { return "the control character \(Self.hex(byte))" }
        if byte < 0x80 { return "'\(Character(Unicode.Scalar(byte)))'" }
        if let (scalar, _) = scalar(at: offset) {
            return "'\(Character(scalar))' (U+\(String(scalar.value, radix: 16, uppercase: true)))"
        }
        return "the invalid UTF-8 byte \(Self.hex(byte))"
    }

    func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// Why a common mistake at `offset` is one.
    private func hint() -> String {
        guard offset < bytes.count else { return "" }
        switch bytes[offset] {
        case UInt8(ascii: "'"): return " (JSON strings take double quotes)"
        case UInt8(ascii: "/"), UInt8(ascii: "#"): return " (JSON has no comments)"
        case UInt8(ascii: "N"), UInt8(ascii: "I"): return " (JSON has no NaN or Infinity)"
        default: return ""
        }
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xF)])"
    }
}
