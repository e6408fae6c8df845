/// A parsed JSON document, kept as a tree so that validation can walk it, name every place by
/// its path and report every problem at once (a `Decodable` model stops at the first).
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A whole number that fits 64 bits: written `5`, or `5.0` / `5e0` (exact within ±2^53), as
    /// JSON Schema's "integer".
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `bytes` strictly (RFC 8259, see `JSONParser`); a syntax error names `file`, the line
    /// and column and what was expected there; every duplicate key is an error.
    package static func parse(_ bytes: some Sequence<UInt8>, file: String?) throws(MappingError) -> JSONValue {
        try JSONParser.parse(Array(bytes), file: file)
    }

    /// How a value is shown in "found …": short, never the whole document.
    package var shortDescription: String {
        switch self {
        case .null: "null"
        case let .bool(value): String(value)
        case let .integer(value): String(value)
        case let .number(value): value.description
        case let .string(text): text.count > 40 ? "\"\(text.prefix(40))…\"" : "\"\(text)\""
        case let .array(items): items.isEmpty ? "an empty array" : "an array"
        case let .object(fields): fields.isEmpty ? "an empty object" : "an object"
        }
    }

    /// The number as a Double, for integers and numbers.
    package var numberValue: Double? {
        switch self {
        case let .integer(value): Double(value)
        case let .number(value): value
        default: nil
        }
    }
}

extension JSONValue: Decodable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}
