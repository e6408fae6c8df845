import FoundationEssentials

/// A parsed JSON document, kept as a tree so that validation can walk it, name every place by
/// its path and report every problem at once (a `Decodable` model stops at the first).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written without a fraction or exponent that fits 64 bits.
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data`; a syntax error names `file` and what the parser said.
    public static func parse(_ data: Data, file: String?) throws(MappingError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw MappingError(file: file, "not valid JSON: \(JSONValue.describe(error))")
        }
    }

    /// How a value is shown in "found …": short, never the whole document.
    public var shortDescription: String {
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
    public var numberValue: Double? {
        switch self {
        case let .integer(value): Double(value)
        case let .number(value): value
        default: nil
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case let .dataCorrupted(context):
                let underlying = context.underlyingError.map { " (\($0))" } ?? ""
                return context.debugDescription + underlying
            default:
                return "\(decoding)"
            }
        }
        return "\(error)"
    }
}

extension JSONValue: Decodable {
    public init(from decoder: any Decoder) throws {
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
