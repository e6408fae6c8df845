import Mapping

/// The `state` document, which never shows an old number as current (docs/device-data.md).
extension DeviceAgent {
    /// The `state` document: availability, the current reading of every readable point in
    /// `values`, the last good value of points that are not current in `stale`, the last error.
    /// A point is not current when its last read got no answer (`values` then holds
    /// `{"error": …}` for it) or when the device is not online (`values` is then empty).
    func stateFields() -> [(String, JSONValue)] {
        let online = availability.state == .online
        var values: [String: JSONValue] = [:]
        var stale: [String: JSONValue] = [:]
        for (index, point) in profile.points.enumerated() where point.access.isReadable {
            let failure = readFailure[index]
            if online {
                if let failure {
                    values[point.name] = PointReading.error(failure).published
                } else if let reading = readings.reading(at: index) {
                    values[point.name] = reading.published
                }
            }
            if !online || failure != nil, let good = lastGood[index] {
                let (seconds, milliseconds) = good.at.quotientAndRemainder(dividingBy: 1000)
                stale[point.name] = .object(["value": good.value,
                                             "ts": .string(Timestamp.rfc3339(seconds: Int(seconds), milliseconds: Int(milliseconds)))])
            }
        }
        var units: [String: JSONValue] = [:]
        for point in profile.points { if let unit = point.unit { units[point.name] = .string(unit) } }
        var fields: [(String, JSONValue)] = [
            ("online", .bool(online)),
            ("bus", .string(device.bus.id)), ("unit", .integer(Int64(unit))), ("profile", .string(profile.model)),
            ("values", .object(values)),
        ]
        if !stale.isEmpty { fields.append(("stale", .object(stale))) }
        if !units.isEmpty { fields.append(("units", .object(units))) }
        fields.append(("error", lastError.map(JSONValue.string) ?? .null))
        return fields
    }
}
