import Mapping

/// A message on one of a device's command topics (or its `config`), parsed: which points get
/// which values, and the request id to answer with.
struct CommandMessage {
    enum Kind: Equatable {
        /// `commands/<point>` or `commands` (of the device or of its registry).
        case command
        /// `config`: desired values, kept and re-applied when the device comes back online.
        case config
    }

    let kind: Kind
    /// The request's `id`, echoed in the ack (null when the request had none).
    var id: JSONValue = .null
    /// Point (or command point) names with their values, in the order given.
    var values: [(name: String, value: JSONValue)] = []
    /// How long timed-out transactions are retried (`"deadline"`); nil: the profile's `writeDeadline`.
    var deadline: Duration?

    /// Parses the payload of a message on `topic`; the error carries the request id when one could be read.
    static func parse(topic: CommandTopic, payload: [UInt8]) -> Result<CommandMessage, CommandRefusal> {
        let document = parseJSON(payload)
        switch topic {
        case let .devicePoint(_, point), let .registryPoint(_, point):
            return single(point: point, document: document)
        case .deviceBatch, .registryBatch:
            return batch(kind: .command, document: document)
        case .config:
            return batch(kind: .config, document: document)
        }
    }

    /// `commands/<point>`: a bare value, or `{"value": …, "id": …}`.
    private static func single(point: String, document: Result<JSONValue, CommandRefusal>) -> Result<CommandMessage, CommandRefusal> {
        var message = CommandMessage(kind: .command)
        switch document {
        case let .success(.object(fields)) where fields["value"] != nil:
            message.id = fields["id"] ?? .null
            if let unknown = fields.keys.sorted().first(where: { $0 != "value" && $0 != "id" && $0 != "deadline" }) {
                return .failure(CommandRefusal(id: message.id, "unknown key \"\(unknown)\"; expected {\"value\": …, \"id\": …, \"deadline\": …}"))
            }
            message.values = [(point, fields["value"] ?? .null)]
            if let refusal = message.takeDeadline(fields["deadline"]) { return .failure(refusal) }
        case let .success(value):
            message.values = [(point, value)]
        case let .failure(refusal):
            return .failure(refusal)
        }
        return .success(message)
    }

    /// `commands` or `config`: `{"id": …, "<point>": value, …}`.
    private static func batch(kind: Kind, document: Result<JSONValue, CommandRefusal>) -> Result<CommandMessage, CommandRefusal> {
        var message = CommandMessage(kind: kind)
        guard case let .success(.object(fields)) = document else {
            if case let .failure(refusal) = document { return .failure(refusal) }
            return .failure(CommandRefusal(id: .null, "expected a JSON object of point names and values"))
        }
        message.id = fields["id"] ?? .null
        if let refusal = message.takeDeadline(fields["deadline"]) { return .failure(refusal) }
        message.values = fields.filter { $0.key != "id" && $0.key != "deadline" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if message.values.isEmpty && kind == .command {
            return .failure(CommandRefusal(id: message.id, "no point to write"))
        }
        return .success(message)
    }

    /// A `"deadline"` member (`"2s"`, or milliseconds), if there is one; the refusal if it is not a duration in range.
    private mutating func takeDeadline(_ value: JSONValue?) -> CommandRefusal? {
        guard let value else { return nil }
        let range = DeviceProfile.writeDeadlineRange
        guard let duration = DurationText.parse(value), range.contains(duration) else {
            return CommandRefusal(id: id, "deadline: found \(value.jsonText), expected a duration \(DurationText.format(range.lowerBound))..."
                                  + "\(DurationText.format(range.upperBound)) (milliseconds, or a string such as \"2s\")")
        }
        deadline = duration
        return nil
    }

    /// JSON; a payload that is not JSON is taken as a string (so `mosquitto_pub -m heat` works),
    /// unless it is empty or not UTF-8, or meant as JSON: one that starts like an object, an array
    /// or a string is refused with what is wrong in it (a trailing comma, a duplicate key), not
    /// written as text.
    private static func parseJSON(_ payload: [UInt8]) -> Result<JSONValue, CommandRefusal> {
        let syntaxError: MappingError
        do {
            return .success(try JSONValue.parse(payload, file: nil))
        } catch {
            syntaxError = error
        }
        guard let text = String(validating: payload, as: UTF8.self), !text.allSatisfy(\.isWhitespace) else {
            return .failure(CommandRefusal(id: .null, "the payload is empty or not UTF-8 text"))
        }
        let trimmed = text.trimmingWhitespace()
        if let first = trimmed.first, "{[\"".contains(first) {
            return .failure(CommandRefusal(id: .null, "not valid JSON: \(syntaxError)"))
        }
        return .success(.string(trimmed))
    }
}

/// The answer to a command on `events/ack`: `{"id", "ok", "written", "readBack", "error",
/// "exception", "attempts"}` (docs/device-data.md).
struct CommandAck {
    var id: JSONValue
    var ok: Bool
    /// Points written, with the values asked for.
    var written: [(String, JSONValue)] = []
    /// Points read again after the write (`readBack`), with what the device holds.
    var readBack: [(String, JSONValue)] = []
    var error: String?
    /// Transactions sent for the command, retries included; published when one was retried.
    var attempts: Int?
    /// The Modbus exception the device answered with.
    var exception: (code: UInt8, name: String)?
    /// True for an answer to a `config` message.
    var config = false

    var jsonText: String {
        var fields: [(String, JSONValue)] = [("id", id), ("ok", .bool(ok))]
        if config { fields.append(("config", .bool(true))) }
        if !written.isEmpty || ok { fields.append(("written", .object(Dictionary(written, uniquingKeysWith: { $1 })))) }
        if !readBack.isEmpty { fields.append(("readBack", .object(Dictionary(readBack, uniquingKeysWith: { $1 })))) }
        if let error { fields.append(("error", .string(error))) }
        if let exception {
            fields.append(("exception", .object(["code": .integer(Int64(exception.code)), "name": .string(exception.name)])))
        }
        if let attempts { fields.append(("attempts", .integer(Int64(attempts)))) }
        return JSONValue.objectText(fields)
    }
}

/// Why a command was refused before anything was written.
struct CommandRefusal: Error {
    let id: JSONValue
    let message: String

    init(id: JSONValue, _ message: String) {
        self.id = id
        self.message = message
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text = text.dropFirst() }
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return String(text)
    }
}
