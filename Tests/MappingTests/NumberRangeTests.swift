import Foundation
import Mapping
import Testing
import TestSupport

/// Every number a config or profile gives is range-checked into a problem at its JSON path: huge,
/// negative, fractional and tiny values never trap (a trap would end the test run here).
@Suite struct NumberRangeTests {
    /// Values at and past the edges of Int64, Double and every range a field has.
    static let extremes = ["1e19", "18446744073709551616", "9223372036854775807", "-9223372036854775808", "-1",
                           "1e308", "-1e308", "0.5", "1e-7", "-0"]

    struct Field: Sendable, CustomTestStringConvertible {
        /// The document, `$V` standing for the value.
        let template: String
        /// Where the problem is expected.
        let path: String
        /// The extremes the field accepts (all others must be reported at `path`).
        let accepted: Set<String>
        var testDescription: String { path }
    }

    private static let point = #"{ "name": "a", "table": "holding", "address": 0, "type": "int16", "access": "readwrite" "#

    private static func profile(point extra: String = "", profile more: String = "") -> String {
        #"{ "model": "m", "vendor": "v", "points": [\#(point)\#(extra) }]\#(more) }"#
    }

    static let profileFields: [Field] = [
        Field(template: profile(point: #", "interval": $V"#), path: "$.points[0].interval", accepted: []),
        Field(template: profile(point: #", "minWriteInterval": $V"#), path: "$.points[0].minWriteInterval", accepted: ["0.5", "1e-7", "-0"]),
        Field(template: profile(point: #", "report": { "heartbeat": $V }"#), path: "$.points[0].report.heartbeat", accepted: ["0.5", "1e-7", "-0"]),
        Field(template: profile(point: #", "report": { "deadband": $V }"#), path: "$.points[0].report.deadband",
              accepted: ["1e19", "18446744073709551616", "9223372036854775807", "1e308", "0.5", "1e-7", "-0"]),
        Field(template: profile(point: #", "scale": $V"#), path: "$.points[0].scale", accepted: ["-1", "0.5", "1e-7"]),
        Field(template: profile(point: #", "offset": $V"#), path: "$.points[0].offset", accepted: ["-1", "0.5", "1e-7", "-0"]),
        Field(template: profile(point: #", "min": $V"#), path: "$.points[0].min", accepted: Set(extremes)),
        Field(template: profile(point: #", "max": $V"#), path: "$.points[0].max", accepted: Set(extremes)),
        Field(template: profile(point: #", "sentinels": [{ "raw": $V, "error": "e" }]"#), path: "$.points[0].sentinels[0].raw",
              accepted: ["9223372036854775807", "-9223372036854775808", "-1", "-0"]),
        Field(template: profile(profile: #", "defaults": { "interval": $V }"#), path: "$.defaults.interval", accepted: []),
        Field(template: profile(profile: #", "limits": { "maxGap": $V }"#), path: "$.limits.maxGap", accepted: ["-0"]),
        Field(template: profile(profile: #", "limits": { "maxRegistersPerRead": $V }"#), path: "$.limits.maxRegistersPerRead", accepted: []),
        Field(template: profile(profile: #", "setup": [{ "table": "holding", "address": 1, "value": $V }]"#), path: "$.setup[0].value", accepted: ["-0"]),
        Field(template: profile(profile: #", "setup": [{ "table": "holding", "address": $V, "value": 1 }]"#), path: "$.setup[0].address", accepted: ["-0"]),
        Field(template: profile(profile: #", "commands": [{ "name": "c", "table": "holding", "address": 1, "codes": { "x": $V } }]"#),
              path: "$.commands[0].codes.x", accepted: ["-0"]),
        Field(template: #"{ "model": "m", "vendor": "v", "points": [{ "name": "a", "table": "holding", "address": $V, "type": "int16" }] }"#,
              path: "$.points[0].address", accepted: ["-0"]),
        Field(template: #"{ "model": "m", "vendor": "v", "points": [{ "name": "a", "table": "holding", "address": 0, "type": "bit", "bit": $V }] }"#,
              path: "$.points[0].bit", accepted: ["-0"]),
        Field(template: #"{ "model": "m", "vendor": "v", "points": [{ "name": "a", "table": "holding", "address": 0, "type": "string", "length": $V }] }"#,
              path: "$.points[0].length", accepted: []),
    ]

    @Test("A profile's number fields take only their range", arguments: profileFields)
    func profileField(field: Field) {
        for value in Self.extremes {
            let text = field.template.replacingOccurrences(of: "$V", with: value)
            do {
                _ = try DeviceProfile.parse(Data(text.utf8), file: "p.json")
                #expect(field.accepted.contains(value), "\(field.path) accepted \(value)")
            } catch {
                #expect(!field.accepted.contains(value), "\(field.path) refused \(value): \(error)")
                #expect(error.problems.contains { $0.path == field.path && $0.file == "p.json" }, "\(field.path) = \(value): \(error)")
            }
        }
    }

    private static func config(bus extra: String = "", config more: String = "", device: String = "") -> String {
        #"""
        { "buses": [{ "id": "b", "type": "tcp", "host": "h"\#(extra) }]\#(more),
          "registries": [{ "id": "reg", "devices": [{ "id": "dev", "bus": "b", "unit": 1, "profile": "m"\#(device) }] }] }
        """#
    }

    /// A config in upstream mode whose `broker.upstream` also holds `field`.
    private static func upstream(_ field: String) -> String {
        config(config: #", "broker": { "mode": "upstream", "upstream": { "url": "mqtt://h", \#(field) } }"#)
    }

    static let configFields: [Field] = [
        Field(template: config(bus: #", "responseTimeout": $V"#), path: "$.buses[0].responseTimeout", accepted: []),
        Field(template: config(bus: #", "byteTimeout": $V"#), path: "$.buses[0].byteTimeout", accepted: []),
        Field(template: config(bus: #", "interFrameDelay": $V"#), path: "$.buses[0].interFrameDelay", accepted: ["0.5", "1e-7", "-0"]),
        Field(template: config(bus: #", "port": $V"#), path: "$.buses[0].port", accepted: []),
        Field(template: config(device: #", "unit": $V"#).replacingOccurrences(of: #""unit": 1, "#, with: ""),
              path: "$.registries[0].devices[0].unit", accepted: ["-0"]),
        Field(template: config(config: #", "broker": { "maxMessageSize": $V }"#), path: "$.broker.maxMessageSize", accepted: []),
        Field(template: config(config: #", "broker": { "listeners": [{ "host": "127.0.0.1", "port": $V }] }"#),
              path: "$.broker.listeners[0].port", accepted: ["-0"]),
        Field(template: config(config: #", "broker": { "mode": "upstream", "upstream": { "url": "mqtt://h", "connection": "shared", "clientId": "c", "keepAlive": $V } }"#),
              path: "$.broker.upstream.keepAlive", accepted: ["0.5", "1e-7", "-0"]),
        Field(template: upstream(#""queue": { "maxBytes": $V }"#), path: "$.broker.upstream.queue.maxBytes", accepted: []),
        Field(template: upstream(#""queue": { "maxAge": $V }"#), path: "$.broker.upstream.queue.maxAge", accepted: []),
        Field(template: upstream(#""queue": { "replayRate": $V }"#), path: "$.broker.upstream.queue.replayRate", accepted: ["-0"]),
        Field(template: upstream(#""queue": { "sync": $V }"#), path: "$.broker.upstream.queue.sync", accepted: []),
        Field(template: upstream(#""commandDedupWindow": $V"#), path: "$.broker.upstream.commandDedupWindow", accepted: ["0.5", "1e-7", "-0"]),
        Field(template: upstream(#""reconnect": { "initial": $V }"#), path: "$.broker.upstream.reconnect.initial", accepted: []),
        Field(template: upstream(#""reconnect": { "max": $V }"#), path: "$.broker.upstream.reconnect.max", accepted: []),
        Field(template: #"{ "buses": [{ "id": "b", "type": "rtu", "device": "/dev/x", "baud": $V }], "registries": [{ "id": "reg", "devices": [{ "id": "dev", "bus": "b", "unit": 1, "profile": "m" }] }] }"#,
              path: "$.buses[0].baud", accepted: []),
        Field(template: #"{ "buses": [{ "id": "b", "type": "simulator", "units": [$V] }], "registries": [{ "id": "reg", "devices": [{ "id": "dev", "bus": "b", "unit": 1, "profile": "m" }] }] }"#,
              path: "$.buses[0].units[0]", accepted: []),
    ]

    /// A config with one profile `m` (so only the field under test can be wrong).
    private func load(_ config: String, in folder: TemporaryFolder) throws(MappingError) -> LoadedConfiguration {
        let file = folder.path + "/config.json"
        try? config.write(toFile: file, atomically: false, encoding: .utf8)
        return try ConfigurationLoader.load(configFile: file)
    }

    @Test("A config's number fields take only their range", arguments: configFields)
    func configField(field: Field) throws {
        let folder = TemporaryFolder()
        try Self.profile().write(toFile: folder.path + "/m.json", atomically: false, encoding: .utf8)
        for value in Self.extremes {
            let text = field.template.replacingOccurrences(of: "$V", with: value)
                .replacingOccurrences(of: #"{ "buses""#, with: #"{ "profiles": ["m.json"], "buses""#)
            do {
                _ = try load(text, in: folder)
                #expect(field.accepted.contains(value), "\(field.path) accepted \(value)")
            } catch {
                #expect(!field.accepted.contains(value), "\(field.path) refused \(value): \(error)")
                #expect(error.problems.contains { $0.path == field.path && $0.file == folder.path + "/config.json" }, "\(field.path) = \(value): \(error)")
            }
        }
    }

    @Test func anOverrideOfADeviceIsCheckedAsItsProfileIs() throws {
        let folder = TemporaryFolder()
        try Self.profile().write(toFile: folder.path + "/m.json", atomically: false, encoding: .utf8)
        let text = Self.config(device: #", "overrides": { "points": { "a": { "interval": 1e19 } }, "defaults": { "interval": 18446744073709551616 } }"#)
            .replacingOccurrences(of: #"{ "buses""#, with: #"{ "profiles": ["m.json"], "buses""#)
        do {
            _ = try load(text, in: folder)
            Issue.record("an interval of 1e19 ms was accepted")
        } catch {
            let file = folder.path + "/config.json: $.registries[0].devices[0] (profile m with overrides)"
            #expect(error.description == """
            \(file): $.defaults.interval: found 1.8446744073709552e+19, expected a duration 10ms...24h (milliseconds, or a string such as "500ms", "2s", "1m")
            \(file): $.points[0].interval: found 1e+19, expected a duration 10ms...24h (milliseconds, or a string such as "500ms", "2s", "1m")
            """)
        }
    }

    @Test func durationTextIsRangeCheckedBeforeItIsConverted() {
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.parse("277h") == .seconds(277 * 3600))
        #expect(DurationText.parse("278h") == nil)  // past 1e9 ms
        #expect(DurationText.parse("99999999999999999999h") == nil)
        #expect(DurationText.parse("1e19ms") == nil)
        #expect(DurationText.parse("-1s") == nil)
        #expect(DurationText.parse(".s") == nil)
        #expect(DurationText.format(.seconds(Int64.max)) == "9223372036854775807ms")
        #expect(DurationText.format(.seconds(90)) == "90s")
    }

    @Test func enumAndFlagKeysAreCanonicalDecimals() {
        let text = #"""
        { "model": "m", "vendor": "v", "points": [
          { "name": "a", "table": "holding", "address": 0, "type": "enum", "labels": { "1": "one", "01": "also one", "65536": "x", "+2": "two" } },
          { "name": "b", "table": "holding", "address": 1, "type": "flags", "flags": { "3": "three", "03": "again", "99999999999999999999": "far" } } ] }
        """#
        do {
            _ = try DeviceProfile.parse(Data(text.utf8), file: "p.json")
            Issue.record("\"01\" was taken as a raw value")
        } catch {
            #expect(error.problems.map { "\($0.path ?? ""): \($0.message)" } == [
                #"$.points[0].labels["+2"]: the key "+2" is not a raw value; expected a decimal 0...65535 without leading zeros"#,
                #"$.points[0].labels.01: the key "01" is not a raw value; expected a decimal 0...65535 without leading zeros"#,
                #"$.points[0].labels.65536: the key "65536" is not a raw value; expected a decimal 0...65535 without leading zeros"#,
                #"$.points[1].flags.03: the key "03" is not a bit number; expected a decimal 0...15 without leading zeros"#,
                #"$.points[1].flags.99999999999999999999: the key "99999999999999999999" is not a bit number; expected a decimal 0...15 without leading zeros"#,
            ])
        }
    }

    @Test func registerTextPastSixtyFourBitsIsOutOfRange() {
        #expect(throws: MappingError("18446744073709551616 is out of range for uint64")) { try RegisterCodec.encode("18446744073709551616", as: .uint64) }
        #expect(throws: MappingError("-9223372036854775809 is out of range for int64")) { try RegisterCodec.encode("-9223372036854775809", as: .int64) }
        #expect(throws: MappingError("-1 is out of range for uint16")) { try RegisterCodec.encode("-1", as: .uint16) }
        #expect(throws: MappingError("'1e3' is not an unsigned integer")) { try RegisterCodec.encode("1e3", as: .uint16) }
        #expect(throws: MappingError("'-' is not an integer")) { try RegisterCodec.encode("-", as: .int16) }
        #expect(throws: MappingError("'1e39' is not a finite number")) { try RegisterCodec.encode("1e39", as: .float32) }
    }

    @Test func numbersBeyondADoubleAreASyntaxErrorAtTheirPlace() {
        do {
            _ = try DeviceProfile.parse(Data(Self.profile(point: ", \"scale\": 1e400").utf8), file: "p.json")
            Issue.record("1e400 parsed")
        } catch {
            #expect(error.description == "p.json: line 1 column 142: number out of range: 1e400 (a number is at most ±1.8e308) (in $.points[0].scale)")
        }
    }
}
