import Mapping
import Modbus

/// `$devices/<id>/commands/$trace`: switches the frame trace of the bus the device is on.
///
/// The access rule is the device's command topic's: only the device's registry may publish
/// there (docs/iot-core.md), and whoever may write a device's registers may see its bus's
/// frames in the gateway's own log. No client reads the trace over MQTT, and a switch from a
/// topic always ends (at most `longest`), so a forgotten trace cannot fill the log for good.
/// `$` cannot start a point name, so the subtopic is never a point's.
struct TraceCommand: Equatable {
    static let point = "$trace"
    static let defaultLength = Duration.seconds(600)
    static let longest = Duration.seconds(86_400)

    var id: JSONValue = .null
    var on: Bool
    /// How long the trace stays on (on only).
    var length: Duration?

    /// `{"on": true, "for": "10m", "id": …}` (`for` defaults to 10 minutes, at most 24 h) or `{"on": false}`.
    static func parse(_ payload: [UInt8]) -> Result<TraceCommand, CommandRefusal> {
        guard case let .object(fields)? = try? JSONValue.parse(payload, file: nil) else {
            return .failure(CommandRefusal(id: .null, "expected {\"on\": true, \"for\": \"10m\"} or {\"on\": false}"))
        }
        let id = fields["id"] ?? .null
        if let unknown = fields.keys.sorted().first(where: { !["id", "on", "for"].contains($0) }) {
            return .failure(CommandRefusal(id: id, "unknown key \"\(unknown)\"; expected on, for, id"))
        }
        guard case let .bool(on)? = fields["on"] else {
            return .failure(CommandRefusal(id: id, "\"on\" must be true or false"))
        }
        guard on else {
            if fields["for"] != nil { return .failure(CommandRefusal(id: id, "\"for\" goes with \"on\": true")) }
            return .success(TraceCommand(id: id, on: false, length: nil))
        }
        var length = defaultLength
        if let value = fields["for"] {
            guard case let .string(text) = value, let parsed = DurationText.parse(text), parsed > .zero, parsed <= longest else {
                return .failure(CommandRefusal(id: id, "\"for\" must be a duration such as \"90s\", \"10m\" or \"2h\", at most 24h"))
            }
            length = parsed
        }
        return .success(TraceCommand(id: id, on: true, length: length))
    }
}

extension BusPoller {
    /// Carries out a `$trace` command from `agent`'s channel and answers it on `events/ack`.
    func switchTrace(_ payload: [UInt8], for agent: DeviceAgent) {
        switch TraceCommand.parse(payload) {
        case let .failure(refusal):
            logger.log(.warning, "command_refused", ["device": agent.id, "point": TraceCommand.point, "error": refusal.message])
            agent.channel.publishAck(CommandAck(id: refusal.id, ok: false, error: refusal.message))
        case let .success(command):
            guard let trace else {
                agent.channel.publishAck(CommandAck(id: command.id, ok: false, error: "this bus has no frame trace"))
                return
            }
            logger.log(.info, "bus_trace_requested", ["bus": busID, "device": agent.id, "on": command.on ? "true" : "false",
                                                      "for": command.length.map(DurationText.format) ?? ""])
            trace.switchOn(command.on, for: command.length)
            agent.channel.publishAck(CommandAck(id: command.id, ok: true))
        }
    }
}
