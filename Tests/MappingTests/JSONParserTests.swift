import FoundationEssentials
import Mapping
import Testing

/// The strict JSON parser: values as RFC 8259 defines them, every syntax error with its line,
/// column (in characters) and what was expected, duplicate keys refused with both places.
@Suite struct JSONParserTests {
    private func parse(_ text: String, file: String = "f.json") throws(MappingError) -> JSONValue {
        try JSONValue.parse(Data(text.utf8), file: file)
    }

    private func parse(bytes: [UInt8]) throws(MappingError) -> JSONValue {
        try JSONValue.parse(Data(bytes), file: "f.json")
    }

    /// The single problem `text` gives, as "PATH: MESSAGE".
    private func failure(_ text: String) -> String {
        failure(bytes: Array(text.utf8))
    }

    private func failure(bytes: [UInt8]) -> String {
        do {
            let value = try parse(bytes: bytes)
            return "parsed: \(value)"
        } catch {
            #expect(error.problems.allSatisfy { $0.file == "f.json" })
            return error.problems.map { "\($0.path ?? "-"): \($0.message)" }.joined(separator: "\n")
        }
    }

    @Test func valuesOfEveryKind() throws {
        let value = try parse(#"""
        { "s": "a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00 é", "t": true, "f": false, "n": null,
          "i": -42, "big": 9223372036854775807, "small": -9223372036854775808, "over": 18446744073709551616,
          "x": 1.5, "e": 2.5e-3, "whole": 5.0, "exp": 1E3, "zero": -0, "nested": [[], {}, [1, [2]]] }
        """#)
        #expect(value == .object([
            "s": .string("a\"b\\c/d\u{8}\u{C}\n\r\té€😀 é"), "t": .bool(true), "f": .bool(false), "n": .null,
            "i": .integer(-42), "big": .integer(.max), "small": .integer(.min), "over": .number(18446744073709551616),
            "x": .number(1.5), "e": .number(0.0025), "whole": .integer(5), "exp": .integer(1000), "zero": .integer(0),
            "nested": .array([.array([]), .object([:]), .array([.integer(1), .array([.integer(2)])])]),
        ]))
        #expect(try parse(" 7 ") == .integer(7))
        #expect(try parse("\"\"") == .string(""))
        #expect(try parse("1e308") == .number(1e308))
    }

    @Test func aUTF8ByteOrderMarkIsSkippedAndColumnsStartAfterIt() throws {
        #expect(try parse(bytes: [0xEF, 0xBB, 0xBF] + Array(#"{"a": 1}"#.utf8)) == .object(["a": .integer(1)]))
        #expect(failure(bytes: [0xEF, 0xBB, 0xBF] + Array("{,}".utf8)).hasPrefix("line 1 column 2: expected a key in double quotes or '}'"))
    }

    /// Each error once: where it is (line, column in characters) and what was expected.
    static let errors: [(String, String)] = [
        ("", "line 1 column 1: empty file, expected a JSON document"),
        (" \n  ", "line 2 column 3: empty file, expected a JSON document"),
        ("{\n  \"a\": 1\n  \"b\": 2 }", "line 3 column 3: expected ',' or '}' after an object member, found '\"'"),
        ("[1 2]", "line 1 column 4: expected ',' or ']' after an array element, found '2' (in $[0])"),
        ("{\"a\": 1,}", "line 1 column 9: expected a key in double quotes after ',', found '}' (JSON allows no comma before '}')"),
        ("[1,]", "line 1 column 4: expected a value after ',', found ']' (JSON allows no comma before ']') (in $[1])"),
        ("{'a': 1}", "line 1 column 2: expected a key in double quotes or '}', found ''' (JSON strings take double quotes)"),
        ("{\"a\" 1}", "line 1 column 6: expected ':' after the key \"a\", found '1'"),
        ("{\"a\": \"xyz", "line 1 column 11: unterminated string (it starts at line 1 column 7) (in $.a)"),
        ("{\"a\": \"x\ny\"}", "line 1 column 9: line break in a string (is its closing '\"' missing? A line break in a string is written \\n) (in $.a)"),
        ("[\"\u{1}\"]", "line 1 column 3: control character 0x01 in a string (write it escaped, as \\t or \\u00XX) (in $[0])"),
        ("[\"\\q\"]", "line 1 column 3: invalid escape '\\q' in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) (in $[0])"),
        ("[\"\\u12G4\"]", "line 1 column 3: expected 4 hex digits after '\\u', found '\\u12G4' (in $[0])"),
        ("[\"\\uD800\"]", "line 1 column 3: lone surrogate '\\uD800' in a string (a high surrogate must be followed by a low one, \\uDC00...\\uDFFF) (in $[0])"),
        ("[\"\\ud800\\u0041\"]", "line 1 column 3: lone surrogate '\\ud800' in a string (a high surrogate must be followed by a low one, \\uDC00...\\uDFFF) (in $[0])"),
        ("[\"\\uDC00\"]", "line 1 column 3: lone surrogate '\\uDC00' in a string (a low surrogate without a high one before it) (in $[0])"),
        ("{\"t\": 1e400}", "line 1 column 7: number out of range: 1e400 (a number is at most ±1.8e308) (in $.t)"),
        ("[-1e400]", "line 1 column 2: number out of range: -1e400 (a number is at most ±1.8e308) (in $[0])"),
        ("[012]", "line 1 column 2: leading zeros are not allowed in a number: '012' (in $[0])"),
        ("[-]", "line 1 column 3: expected a digit after '-', found ']' (in $[0])"),
        ("[1.]", "line 1 column 4: expected a digit after '.' in the number '1.' (in $[0])"),
        ("[1e+]", "line 1 column 5: expected a digit in the exponent of the number '1e+' (in $[0])"),
        ("[0x1F]", "line 1 column 2: invalid number '0x1F' (in $[0])"),
        ("[.5]", "line 1 column 2: expected a value (object, array, string, number, true, false or null), found '.5' (in $[0])"),
        ("[NaN]", "line 1 column 2: expected a value (object, array, string, number, true, false or null), found 'NaN' (JSON has no NaN or Infinity) (in $[0])"),
        ("[-Infinity]", "line 1 column 3: expected a digit after '-', found 'Infinity' (JSON has no Infinity) (in $[0])"),
        ("[tru]", "line 1 column 2: expected a value (object, array, string, number, true, false or null), found 'tru' (in $[0])"),
        ("// note\n{}", "line 1 column 1: expected a value (object, array, string, number, true, false or null), found '/' (JSON has no comments)"),
        ("{} {}", "line 1 column 4: trailing text after the document: found '{', expected the end of the file"),
        ("[1] x", "line 1 column 5: trailing text after the document: found 'x', expected the end of the file"),
        ("{\"a\": [1, {\"b\": ", "line 1 column 17: unexpected end of the file, expected a value (in $.a[1].b)"),
        ("{\"a\": 1", "line 1 column 8: unexpected end of the file, expected ',' or '}' after an object member"),
        // Columns count characters: "é" and "€" are one each, though two and three bytes.
        ("{\"é€\": 1,\n \"b\": é}", "line 2 column 7: expected a value (object, array, string, number, true, false or null), found 'é' (U+E9) (in $.b)"),
    ]

    @Test("A syntax error says where and what was expected", arguments: errors)
    func syntaxError(text: String, expected: String) {
        #expect(failure(text) == expected)
    }

    @Test func invalidUTF8IsNamedByItsByte() {
        // Latin-1 "é" (0xE9), an overlong "/" (C0 AF), a UTF-8 surrogate (ED A0 80), a cut sequence.
        #expect(failure(bytes: Array("[\"caf".utf8) + [0xE9] + Array("\"]".utf8))
            == "line 1 column 6: invalid UTF-8 byte 0xE9 in a string (is the file saved in another encoding, such as Latin-1? JSON files are UTF-8) (in $[0])")
        #expect(failure(bytes: Array("[\"".utf8) + [0xC0, 0xAF] + Array("\"]".utf8)).hasPrefix("line 1 column 3: invalid UTF-8 byte 0xC0 in a string"))
        #expect(failure(bytes: Array("[\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"]".utf8)).hasPrefix("line 1 column 3: invalid UTF-8 byte 0xED in a string"))
        #expect(failure(bytes: Array("[\"".utf8) + [0xE2, 0x82] + Array("\"]".utf8)).hasPrefix("line 1 column 3: invalid UTF-8 byte 0xE2 in a string"))
        #expect(failure(bytes: Array("[".utf8) + [0xFF] + Array("]".utf8))
            == "line 1 column 2: expected a value (object, array, string, number, true, false or null), found the invalid UTF-8 byte 0xFF (in $[0])")
        #expect(failure(bytes: [0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00])
            == "line 1 column 1: the file is UTF-16 (it starts with a UTF-16 byte order mark); JSON files must be UTF-8")
    }

    @Test func duplicateKeysAreRefusedWithBothPlaces() {
        #expect(failure("{\n  \"buses\": [{ \"id\": \"a\",\n    \"port\": 1,\n    \"port\": 2 }] }")
            == "$.buses[0].port: duplicate key (line 4 column 5), first at line 3 column 5")
        // Every duplicate, in every object, is reported; keys that are not names are quoted.
        #expect(failure("{\"a\": 1, \"a\": 2, \"b\": {\"x y\": 0, \"x y\": 1}, \"a\": 3}") == """
        $.a: duplicate key (line 1 column 10), first at line 1 column 2
        $.b["x y"]: duplicate key (line 1 column 34), first at line 1 column 24
        $.a: duplicate key (line 1 column 45), first at line 1 column 2
        """)
        // The same key in two objects is not a duplicate.
        #expect(failure("[{\"a\": 1}, {\"a\": 2}]") == "parsed: array([Mapping.JSONValue.object([\"a\": Mapping.JSONValue.integer(1)]), Mapping.JSONValue.object([\"a\": Mapping.JSONValue.integer(2)])])")
    }

    @Test func nestingIsLimitedSoADeepFileCannotOverflowTheStack() async throws {
        let deepest = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        // On a concurrency-pool thread, as a reload parses.
        let (accepted, refused, hostile) = await Task.detached { () -> (Bool, String, String) in
            let accepted = (try? JSONValue.parse(Data(deepest.utf8), file: nil)) != nil
            return (accepted, Self.failureText(tooDeep), Self.failureText(String(repeating: "{\"a\":[", count: 200_000)))
        }.value
        #expect(accepted)
        #expect(refused.hasPrefix("line 1 column 513: nested deeper than 512 arrays and objects"))
        #expect(hostile.count < 250, "the path in the message is cut short")
        #expect(hostile.hasPrefix("line 1 column 1537: nested deeper than 512 arrays and objects (in …a[0].a[0]"))
    }

    private static func failureText(_ text: String) -> String {
        do {
            _ = try JSONValue.parse(Data(text.utf8), file: nil)
            return "parsed"
        } catch {
            return error.problems.map { "\($0.path ?? "-"): \($0.message)" }.joined(separator: "\n")
        }
    }

    @Test func aSyntaxErrorNamesTheFileAndTheProfileLoaderPassesItOn() {
        do {
            _ = try DeviceProfile.parse(Data("{ \"model\": ".utf8), file: "p.json")
            Issue.record("truncated JSON parsed")
        } catch {
            #expect(error.description == "p.json: line 1 column 12: unexpected end of the file, expected a value (in $.model)")
        }
    }

    /// Every shipped file gives the same tree as Foundation's JSONDecoder, which parsed them before.
    @Test func shippedFilesParseAsBefore() throws {
        let files = ["mappings", "examples", "schemas"].flatMap(ShippedFilesTests.files(in:))
        #expect(files.count >= 10)
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            let reference = try JSONDecoder().decode(JSONValue.self, from: data)
            #expect(try JSONValue.parse(data, file: file) == reference, "\(file)")
        }
    }

    @Test func aLargeProfileParsesInOnePass() throws {
        // 5,000 points, about 600 kB: a size no real profile reaches.
        let points = (0..<5_000).map { #"{ "name": "p\#($0)", "table": "holding", "address": \#($0), "type": "int16", "scale": 0.1, "description": "point \#($0) ü" }"# }
        let text = #"{ "model": "big", "vendor": "v", "points": [\#(points.joined(separator: ",\n"))] }"#
        guard case let .object(fields) = try parse(text), case let .array(items)? = fields["points"] else {
            Issue.record("not an object with points")
            return
        }
        #expect(items.count == 5_000)
        #expect(items.last == .object(["name": .string("p4999"), "table": .string("holding"), "address": .integer(4_999),
                                       "type": .string("int16"), "scale": .number(0.1), "description": .string("point 4999 ü")]))
    }
}
