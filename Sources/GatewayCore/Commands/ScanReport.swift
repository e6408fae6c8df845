import Mapping
import Modbus

/// What a scan found, printed as a table or as JSON (`--json`).
struct ScanReport {
    /// A device that answered the probe.
    struct Device {
        let unit: UInt8
        /// `9600 8E1`; nil on TCP.
        let settings: String?
        /// `answered`, or the exception it answered with.
        let answer: String
        /// With `--profile`: each planned read and what the device made of it.
        var checks: [Check] = []

        /// Points read by requests the device did not answer.
        var misfits: [String] { checks.filter { $0.result != Check.answered }.flatMap(\.points) }
    }

    /// One planned read of the profile tried on a device.
    struct Check {
        static let answered = "answered"
        static let notImplemented = "exception 02 (address not implemented)"

        let request: String
        let points: [String]
        /// `answered`, `exception 02 (address not implemented)` or `other: <why>`.
        let result: String

        static func verdict(_ result: Result<ModbusResponse, ModbusError>) -> String {
            guard case let .failure(error) = result else { return answered }
            if error.kind == .exception(.illegalDataAddress) { return notImplemented }
            return "other: \(error.reason)"
        }
    }

    /// A unit id that answered with a broken frame at some setting.
    struct WrongSettings {
        let unit: UInt8
        let settings: String?
        let reason: String
    }

    let target: String
    let unitCount: Int
    let timeout: Duration
    /// The settings tried, in order (serial lines).
    var tried: [String] = []
    /// The settings at which the devices answered.
    var settings: String?
    var devices: [Device] = []
    var wrongSettings: [WrongSettings] = []
    /// The model of the profile checked, if any.
    var profile: String?

    var table: String {
        guard !devices.isEmpty else {
            var text = "no device answered on \(target) (\(unitCount) unit id\(unitCount == 1 ? "" : "s")"
            text += tried.isEmpty ? ")" : " at \(tried.joined(separator: ", ")))"
            if !wrongSettings.isEmpty {
                text += "\nbroken answers from unit \(Set(wrongSettings.map(\.unit)).sorted().map(String.init).joined(separator: ", ")): "
                    + "a device at other line settings (baud rate, parity, framing), or two devices on one unit id"
            }
            return text
        }
        var lines = ["", "unit  settings     answer"]
        for device in devices {
            let settingsColumn = (device.settings ?? "-").padding(to: 12)
            lines.append(String(device.unit).leftPadded(to: 4) + "  " + settingsColumn + " " + device.answer)
        }
        lines.append("found \(devices.count) device\(devices.count == 1 ? "" : "s")\(settings.map { " at \($0)" } ?? "")")
        if let profile {
            for device in devices {
                lines.append("")
                lines.append("unit \(device.unit) against profile \(profile):")
                for check in device.checks {
                    lines.append("  \(check.request.padding(to: 34)) \(check.result)  [\(check.points.joined(separator: ", "))]")
                }
                let misfits = device.misfits
                lines.append(misfits.isEmpty ? "  fits" : "  does not fit: \(misfits.joined(separator: ", "))")
            }
        }
        return lines.joined(separator: "\n")
    }

    var json: String {
        var fields: [(String, JSONValue)] = [
            ("target", .string(target)),
            ("units", .integer(Int64(unitCount))),
            ("timeoutMs", .integer(timeout.milliseconds)),
            ("tried", .array(tried.map(JSONValue.string))),
            ("settings", settings.map(JSONValue.string) ?? .null),
        ]
        fields.append(("devices", .array(devices.map { device in
            var object: [String: JSONValue] = [
                "unit": .integer(Int64(device.unit)),
                "answer": .string(device.answer),
                "settings": device.settings.map(JSONValue.string) ?? .null,
            ]
            if let profile {
                object["profile"] = .object([
                    "model": .string(profile),
                    "fits": .bool(device.misfits.isEmpty),
                    "misfits": .array(device.misfits.map(JSONValue.string)),
                    "checks": .array(device.checks.map { check in
                        .object(["request": .string(check.request), "points": .array(check.points.map(JSONValue.string)),
                                 "result": .string(check.result)])
                    }),
                ])
            }
            return .object(object)
        })))
        fields.append(("wrongSettings", .array(wrongSettings.map { entry in
            .object(["unit": .integer(Int64(entry.unit)), "settings": entry.settings.map(JSONValue.string) ?? .null,
                     "reason": .string(entry.reason)])
        })))
        return JSONValue.objectText(fields)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
