/// What one read of a point gave: a value to publish, or the reason there is none (a sensor
/// error from a sentinel, a set `invalidWhen` flag, a float that is not a number).
package enum PointReading: Sendable, Equatable {
    case value(JSONValue)
    case error(String)

    /// The value, if there is one.
    package var value: JSONValue? {
        if case let .value(value) = self { return value }
        return nil
    }

    /// As it appears in an `events` document: the bare value, or `{"error": "…"}`.
    package var published: JSONValue {
        switch self {
        case let .value(value): value
        case let .error(reason): .object(["error": .string(reason)])
        }
    }
}
