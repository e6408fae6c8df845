import FoundationEssentials
import Mapping
import Testing

/// A profile with one point of every kind the decoder and encoder handle.
private let profileJSON = """
    { "model": "values", "vendor": "test",
      "points": [
        { "name": "pv", "table": "holding", "address": 0, "type": "int16", "scale": 0.1,
          "sentinels": [{ "raw": "0x8003", "error": "sensor open" }],
          "invalidWhen": [{ "point": "status", "flag": "sensor_break" }] },
        { "name": "sv", "table": "holding", "address": 1, "type": "int16", "scale": 0.1, "access": "readwrite", "min": -50, "max": 400 },
        { "name": "mode", "table": "holding", "address": 2, "type": "enum", "access": "readwrite",
          "labels": { "0": "off", "1": "heat", "2": "cool" } },
        { "name": "status", "table": "holding", "address": 3, "type": "flags", "access": "readwrite",
          "flags": { "0": "running", "3": "sensor_break" } },
        { "name": "alarm_bit", "table": "holding", "address": 3, "type": "bit", "bit": 5, "access": "readwrite" },
        { "name": "name", "table": "holding", "address": 4, "type": "string", "length": 3, "access": "readwrite" },
        { "name": "energy", "table": "holding", "address": 7, "type": "uint32", "order": "cdab" },
        { "name": "flow", "table": "holding", "address": 9, "type": "float32", "access": "readwrite" },
        { "name": "decimals", "table": "holding", "address": 11, "type": "uint16" },
        { "name": "level", "table": "holding", "address": 12, "type": "int16", "decimalsFrom": "decimals", "access": "readwrite" },
        { "name": "offset_temp", "table": "input", "address": 0, "type": "uint16", "scale": 0.5, "offset": -40 },
        { "name": "relay", "table": "coil", "address": 0, "access": "readwrite" }
      ],
      "commands": [{ "name": "op", "table": "holding", "address": 100, "codes": { "run": 256, "stop": 257 } }] }
    """

private var profile: DeviceProfile {
    get throws { try DeviceProfile.parse(Data(profileJSON.utf8), file: "values.json") }
}

private func point(_ name: String) throws -> Point {
    try #require(try profile.point(named: name))
}

private func decode(_ name: String, _ registers: [UInt16], decimals: Int64? = nil) throws -> PointReading {
    PointDecoder.decode(try point(name), registers: registers[...], decimals: decimals)
}

@Suite("Point values: registers to published values")
struct PointDecodingTests {
    @Test("Scaled integers publish in the scale's decimals (653 × 0.1 = 65.3, not 65.30000000000001)")
    func scaledIntegers() throws {
        #expect(try decode("pv", [653]) == .value(.number(65.3)))
        #expect(try decode("pv", [653]).published.jsonText == "65.3")
        #expect(try decode("pv", [0xFFFB]).published.jsonText == "-0.5")
        #expect(try decode("pv", [650]).published.jsonText == "65")
        #expect(try decode("offset_temp", [181]).published.jsonText == "50.5")
        #expect(try decode("energy", [0x5678, 0x1234]) == .value(.integer(0x1234_5678)))
    }

    @Test("A sentinel raw value is an error, never a scaled number")
    func sentinel() throws {
        #expect(try decode("pv", [0x8003]) == .error("sensor open"))
        #expect(try decode("pv", [0x8003]).published.jsonText == #"{"error":"sensor open"}"#)
        #expect(try decode("pv", [0x8002]) == .value(.number(-3276.6)))
    }

    @Test("Enums, flags, bits, strings and floats")
    func otherTypes() throws {
        #expect(try decode("mode", [2]) == .value(.string("cool")))
        #expect(try decode("mode", [7]) == .value(.integer(7)))
        #expect(try decode("status", [0b1001]) == .value(.array([.string("running"), .string("sensor_break")])))
        // Bits without a name are left out; the high bit alone is a one-name list.
        #expect(try decode("status", [0b1000_0000_0000_1011]) == .value(.array([.string("running"), .string("sensor_break")])))
        #expect(try decode("status", [0b1000]) == .value(.array([.string("sensor_break")])))
        #expect(try decode("alarm_bit", [0b10_0000]) == .value(.bool(true)))
        #expect(try decode("alarm_bit", [0b01_1111]) == .value(.bool(false)))
        #expect(try decode("name", [0x4F76, 0x656E, 0x0000]) == .value(.string("Oven")))
        #expect(try decode("flow", [0x42F6, 0xE979]).published.jsonText == "123.456")
        #expect(try decode("flow", [0x7FC0, 0x0000]) == .error("the device sent nan (not a number)"))
    }

    @Test("decimalsFrom scales by the decimal-point register, read first when read together")
    func decimalsFrom() throws {
        let profile = try profile
        var readings = DeviceReadings(profile: profile)
        let decimalsIndex = try #require(profile.points.firstIndex { $0.name == "decimals" })
        let levelIndex = try #require(profile.points.firstIndex { $0.name == "level" })
        // The dependent point listed first: the decimal point is still decoded before it.
        let results = readings.decode([levelIndex, decimalsIndex], registers: [2, 1234], start: 11)
        #expect(results.map { profile.points[$0.index].name } == ["level", "decimals"])
        #expect(results.map(\.1) == [.value(.number(12.34)), .value(.integer(2))])
        // Alone, before any decimal point was read: an error saying so.
        var fresh = DeviceReadings(profile: profile)
        #expect(fresh.decode([levelIndex], registers: [1234], start: 12).first?.1 == .error("its decimal point (decimals) has not been read"))
    }

    @Test("invalidWhen: a set status flag makes the value an error")
    func invalidWhen() throws {
        let profile = try profile
        var readings = DeviceReadings(profile: profile)
        let pv = try #require(profile.points.firstIndex { $0.name == "pv" })
        let status = try #require(profile.points.firstIndex { $0.name == "status" })
        #expect(readings.decode([pv, status], registers: [250, 0, 0, 0b1000], start: 0).first?.1 == .error("invalid while status has sensor_break set"))
        #expect(readings.decode([pv, status], registers: [250, 0, 0, 0b0001], start: 0).first?.1 == .value(.number(25)))
    }
}

@Suite("Point values: commands to register writes")
struct PointEncodingTests {
    private func encode(_ name: String, _ value: JSONValue, decimals: Int64? = nil) throws -> Result<RegisterWrite, MappingError> {
        let point = try point(name)
        return Result { () throws(MappingError) in try PointEncoder.encode(value, for: point, decimals: decimals) }
    }

    private func refusal(_ name: String, _ value: JSONValue) throws -> String? {
        if case let .failure(error) = try encode(name, value) { return error.message }
        return nil
    }

    @Test("Numbers: engineering value → raw register, through the scale and its type")
    func numbers() throws {
        #expect(try encode("sv", .number(70.5)).get() == .registers(address: 1, values: [705]))
        #expect(try encode("sv", .integer(-2)).get() == .registers(address: 1, values: [0xFFEC]))
        #expect(try encode("flow", .number(123.456)).get() == .registers(address: 9, values: [0x42F6, 0xE979]))
        #expect(try encode("level", .number(12.34), decimals: 2).get() == .registers(address: 12, values: [1234]))
    }

    @Test("Refusals say why: read-only, type, range, resolution, label")
    func refusals() throws {
        #expect(try refusal("pv", .number(1)) == "pv is read-only")
        #expect(try refusal("sv", .string("hot")) == "sv takes a number; found \"hot\"")
        #expect(try refusal("sv", .number(400.5)) == "sv: 400.5 is above the maximum 400")
        #expect(try refusal("sv", .integer(-51)) == "sv: -51 is below the minimum -50")
        #expect(try refusal("sv", .number(70.25)) == "sv: 70.25 is finer than the register's resolution (0.1)")
        #expect(try refusal("mode", .string("warm")) == "mode has no label \"warm\"; expected one of off, heat, cool")
        #expect(try refusal("mode", .integer(9)) == "mode: 9 is not one of its codes; expected one of off, heat, cool")
        #expect(try refusal("relay", .string("on")) == "relay takes true or false; found \"on\"")
        #expect(try refusal("name", .string("too long!")) == "name: 9 bytes do not fit its 3 registers (at most 6)")
        #expect(try refusal("level", .number(1)) == "level: its decimal point (decimals) is not known yet; try again after it has been read")
    }

    @Test("Enums, bools, bits, strings, flags and command codes")
    func otherTypes() throws {
        #expect(try encode("mode", .string("heat")).get() == .registers(address: 2, values: [1]))
        #expect(try encode("mode", .integer(2)).get() == .registers(address: 2, values: [2]))
        #expect(try encode("relay", .bool(true)).get() == .coil(address: 0, value: true))
        #expect(try encode("relay", .integer(0)).get() == .coil(address: 0, value: false))
        #expect(try encode("alarm_bit", .bool(true)).get() == .registerBit(address: 3, bit: 5, value: true))
        #expect(try encode("name", .string("Ov")).get() == .registers(address: 4, values: [0x4F76, 0, 0]))
        #expect(try encode("status", .array([.string("sensor_break"), .string("running")])).get() == .registers(address: 3, values: [0b1001]))
        let op = try #require(try profile.command(named: "op"))
        #expect(try PointEncoder.encode(.string("stop"), for: op) == .registers(address: 100, values: [257]))
        #expect(throws: MappingError("op has no code \"go\"; expected one of run, stop")) { try PointEncoder.encode(.string("go"), for: op) }
    }
}

private func admitted(_ filter: inout ReportFilter, _ reading: PointReading, at now: ContinuousClock.Instant) -> Bool {
    filter.admit(reading, at: now)
}

@Suite("Report rules: on change, deadband, heartbeat")
struct ReportFilterTests {
    @Test("On change with a deadband, and a heartbeat that publishes an unchanged value")
    func deadbandAndHeartbeat() {
        var rule = ReportRule()
        rule.deadband = 0.5
        rule.heartbeat = .seconds(10)
        var filter = ReportFilter(rule: rule)
        let start = ContinuousClock.now
        #expect(admitted(&filter, .value(.number(20)), at: start))
        #expect(!admitted(&filter, .value(.number(20.4)), at: start + .seconds(1)))
        #expect(admitted(&filter, .value(.number(20.5)), at: start + .seconds(2)))
        #expect(!admitted(&filter, .value(.number(20.1)), at: start + .seconds(3)))
        #expect(admitted(&filter, .value(.number(20.1)), at: start + .seconds(12)))
        #expect(admitted(&filter, .error("sensor open"), at: start + .seconds(13)))
        #expect(!admitted(&filter, .error("sensor open"), at: start + .seconds(14)))
        #expect(admitted(&filter, .value(.number(20.1)), at: start + .seconds(15)))
        filter.reset()
        #expect(admitted(&filter, .value(.number(20.1)), at: start + .seconds(16)))
    }

    @Test("onChange false publishes every read; non-numbers compare by value")
    func everyRead() {
        var rule = ReportRule()
        rule.onChange = false
        var every = ReportFilter(rule: rule)
        let now = ContinuousClock.now
        #expect(admitted(&every, .value(.bool(true)), at: now))
        #expect(admitted(&every, .value(.bool(true)), at: now))
        var changes = ReportFilter(rule: ReportRule())
        #expect(admitted(&changes, .value(.string("heat")), at: now))
        #expect(!admitted(&changes, .value(.string("heat")), at: now))
        #expect(admitted(&changes, .value(.string("cool")), at: now))
    }
}

@Suite("JSON text and timestamps of published payloads")
struct PayloadTextTests {
    @Test func jsonText() {
        #expect(JSONValue.objectText([("b", .integer(1)), ("a", .string("x\"y\\\n\u{1}é"))]) == #"{"b":1,"a":"x\"y\\\n\u0001é"}"#)
        #expect(JSONValue.object(["b": .null, "a": .array([.bool(true), .number(0.25), .number(1e20)])]).jsonText == #"{"a":[true,0.25,1e+20],"b":null}"#)
    }

    @Test("Numbers are written digit by digit: signs, limits, integral doubles, non-finite")
    func numbers() {
        let values: [(JSONValue, String)] = [
            (.integer(0), "0"), (.integer(-5), "-5"), (.integer(.max), "9223372036854775807"),
            (.integer(.min), "-9223372036854775808"), (.number(65), "65"), (.number(-3), "-3"),
            (.number(-0.5), "-0.5"), (.number(65.3), "65.3"), (.number(999_999_999_999_999), "999999999999999"), (.number(1e15), "1000000000000000.0"), (.number(.nan), "null"),
        ]
        for (value, text) in values { #expect(value.jsonText == text) }
    }

    @Test("A point's member and reading written straight into bytes read as the object written the usual way")
    func membersAndReadings() {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes += JSONValue.memberPrefix("pv \"1\"")
        PointReading.value(.number(65.3)).published.appendJSON(to: &bytes)
        bytes.append(UInt8(ascii: ","))
        bytes += JSONValue.memberPrefix("sv")
        PointReading.error("sensor \"open\"").published.appendJSON(to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        let expected = JSONValue.objectText([("pv \"1\"", .number(65.3)), ("sv", PointReading.error("sensor \"open\"").published)])
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        #expect(expected == #"{"pv \"1\"":65.3,"sv":{"error":"sensor \"open\""}}"#)
    }

    @Test func rfc3339() {
        #expect(Timestamp.rfc3339(seconds: 0, milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(seconds: 1_795_253_400, milliseconds: 7) == "2026-11-21T09:30:00.007Z")
        #expect(Timestamp.rfc3339(seconds: 951_868_799, milliseconds: 999) == "2000-02-29T23:59:59.999Z")
        let now = Timestamp.now()
        #expect(now.count == 24 && now.hasPrefix("20") && now.hasSuffix("Z"))
    }
}
