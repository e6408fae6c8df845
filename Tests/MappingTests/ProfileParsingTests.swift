import FoundationEssentials
import Mapping
import Testing

@Suite struct ProfileParsingTests: ProfileSourceParsing {


    @Test func aValidProfileReadsEveryField() throws {
        let profile = try parse("""
        {
          "$schema": "../schemas/profile.schema.json",
          "model": "acme-t1", "vendor": "Acme",
          "limits": { "maxRegistersPerRead": 8, "writeMultiple": false, "coilReadFunction": 2 },
          "defaults": { "interval": "2s", "report": { "deadband": 0.5, "heartbeat": "5m" }, "subtopics": true },
          "points": [
            { "name": "pv", "table": "holding", "address": 4096, "type": "int16", "scale": 0.1, "unit": "°C",
              "sentinels": [{ "raw": "0x8003", "error": "open" }, { "raw": 31000, "error": "hi" }],
              "invalidWhen": [{ "point": "status", "flag": "sensor_break" }] },
            { "name": "sv", "table": "holding", "address": 4097, "type": "int16", "decimalsFrom": "dp",
              "access": "readwrite", "min": -200, "max": 1300, "minWriteInterval": 60000, "interval": 250,
              "report": { "onChange": false } },
            { "name": "dp", "table": "input", "address": 1, "type": "uint16" },
            { "name": "total", "table": "input", "address": 2, "type": "float64", "order": "dcba" },
            { "name": "status", "table": "input", "address": 10, "type": "flags", "registers": 2,
              "flags": { "5": "sensor_break", "20": "remote" } },
            { "name": "alarm", "table": "input", "address": 10, "type": "bit", "bit": 3 },
            { "name": "mode", "table": "holding", "address": 7, "type": "enum", "labels": { "0": "pid", "1": "on_off" } },
            { "name": "tag", "table": "holding", "address": 20, "type": "string", "length": 4 },
            { "name": "run", "table": "coil", "address": 2068, "access": "readwrite" }
          ],
          "setup": [{ "table": "coil", "address": 2064, "value": true, "description": "CoSH" }],
          "commands": [{ "name": "tune", "table": "holding", "address": 0, "codes": { "start": 769, "stop": 768 } }]
        }
        """)
        #expect(profile.model == "acme-t1")
        #expect(profile.verified)
        #expect(profile.limits.maxRegistersPerRead == 8 && !profile.limits.writeMultiple && profile.limits.writeSingle)
        #expect(profile.limits.coilReadFunction == 2)
        let pv = try #require(profile.point(named: "pv"))
        #expect(pv.type == .number(.int16, order: .bigEndian))
        #expect(pv.scaling == .linear(scale: 0.1, offset: 0))
        #expect(pv.sentinels == [Sentinel(raw: -32765, error: "open"), Sentinel(raw: 31000, error: "hi")])
        #expect(pv.interval == .seconds(2) && pv.report.deadband == 0.5 && pv.report.heartbeat == .seconds(300) && pv.subtopic)
        #expect(pv.invalidWhen == [InvalidWhen(point: "status", flag: "sensor_break")])
        let sv = try #require(profile.point(named: "sv"))
        #expect(sv.scaling == .decimalsFrom("dp") && sv.access == .readwrite)
        #expect(sv.minimum == -200 && sv.maximum == 1300 && sv.minimumWriteInterval == .seconds(60))
        #expect(sv.interval == .milliseconds(250) && !sv.report.onChange && sv.report.deadband == 0.5)
        #expect(profile.point(named: "total")?.type == .number(.float64, order: RegisterOrder(notation: "dcba")!))
        #expect(profile.point(named: "status")?.type == .flags(registers: 2, order: .bigEndian, names: [5: "sensor_break", 20: "remote"]))
        #expect(profile.point(named: "status")?.addresses == 10..<12)
        #expect(profile.point(named: "alarm")?.type == .bit(3))
        #expect(profile.point(named: "mode")?.type == .enumeration(labels: [0: "pid", 1: "on_off"]))
        #expect(profile.point(named: "tag")?.type == .string(registers: 4, order: .bigEndian))
        #expect(profile.point(named: "run")?.type == .bool)
        #expect(profile.setup == [SetupWrite(table: .coil, address: 2064, value: 1, description: "CoSH")])
        #expect(profile.commands == [CommandPoint(name: "tune", description: "", table: .holding, address: 0, codes: ["start": 769, "stop": 768])])
    }

    @Test func everyProblemOfAFileIsReportedTogether() {
        let found = problems("""
        {
          "model": "Acme T1", "vendor": "Acme",
          "limits": { "maxRegistersPerRead": 126, "brodcast": false },
          "points": [
            { "name": "pv", "table": "holding", "address": 70000, "type": "int17" },
            { "name": "2sv", "table": "holdings", "address": 1, "type": "int16" },
            { "name": "flag", "table": "holding", "address": 2, "type": "bit" },
            { "name": "temp", "table": "input", "address": 3, "type": "int16", "interval": "5 sec", "access": "readwrite" },
            { "name": "led", "table": "discrete", "address": 4, "type": "int16" }
          ]
        }
        """)
        let expected: [String] = [
            "$.limits.maxRegistersPerRead: found 126, expected an integer 1...125",
            "$.limits.brodcast: unknown key (did you mean 'broadcast'?)",
            "$.points[0].address: found 70000, expected an integer 0...65535",
            "$.points[0].type: found \"int17\", expected one of int16, uint16, int32, uint32, int64, uint64, float32, float64, bool, bit, string, enum, flags",
            "$.points[1].name: found \"2sv\", expected " + "a name of lowercase letters, digits and '_', starting with a letter, at most 32 characters",
            "$.points[1].table: found \"holdings\", expected one of coil, discrete, input, holding",
            "$.points[2].bit: missing, expected the bit number 0...15 (0 the least significant)",
            "$.points[3].access: input points cannot be written; writable tables are holding and coil",
            "$.points[3].interval: found \"5 sec\", expected a duration 10ms...24h (milliseconds, or a string such as \"500ms\", \"2s\", \"1m\")",
            "$.points[4].type: found \"int16\", expected \"bool\": a discrete holds one bit",
            "$.model: found \"Acme T1\", expected a model id of lowercase letters, digits and '-'",
        ]
        #expect(Set(found) == Set(expected))
        #expect(found.count == expected.count)
    }

    @Test func referencesBetweenPointsAreChecked() {
        let found = problems("""
        { "model": "m", "vendor": "v", "limits": { "writeMultiple": false },
          "points": [
            { "name": "pv", "table": "input", "address": 0, "type": "int16", "decimalsFrom": "dp",
              "invalidWhen": [{ "point": "status", "flag": "broken" }, { "point": "pv", "flag": "x" }] },
            { "name": "status", "table": "input", "address": 1, "type": "flags", "flags": { "0": "open" } },
            { "name": "pv", "table": "input", "address": 2, "type": "float32" },
            { "name": "sp", "table": "holding", "address": 10, "type": "float32", "access": "readwrite" },
            { "name": "tag", "table": "input", "address": 3, "type": "string", "length": 2 }
          ],
          "commands": [{ "name": "sp", "table": "holding", "address": 0, "codes": { "go": 1 } }]
        }
        """)
        #expect(found.contains("$.points[0].decimalsFrom: found \"dp\", expected the name of another readable integer point of this profile"))
        #expect(found.contains("$.points[0].invalidWhen[0].flag: found \"broken\", expected one of open"))
        #expect(found.contains("$.points[0].invalidWhen[1].point: found \"pv\", expected the name of a flags point of this profile"))
        #expect(found.contains("$.points[2].name: \"pv\" is already the name of $.points[0]"))
        #expect(found.contains("$.points[3].access: writing 2 registers needs FC16, and limits.writeMultiple is false"))
        #expect(found.contains("$.commands[0].name: \"sp\" is already the name of $.points[3]"))
        // float32 "pv" at 2...3 overlaps the string "tag" at 3...4.
        #expect(found.contains("$.points[4].address: overlaps \"pv\" ($.points[2]) in the input table"))
        #expect(found.count == 7)
    }

    @Test func aBitMayShareItsRegisterButTwoValuesMayNot() {
        #expect(problems("""
        { "model": "m", "vendor": "v", "points": [
          { "name": "status", "table": "input", "address": 5, "type": "uint16" },
          { "name": "alarm", "table": "input", "address": 5, "type": "bit", "bit": 2 },
          { "name": "same", "table": "holding", "address": 5, "type": "uint16" } ] }
        """).isEmpty)
        #expect(problems("""
        { "model": "m", "vendor": "v", "points": [
          { "name": "a", "table": "holding", "address": 5, "type": "uint32" },
          { "name": "b", "table": "holding", "address": 6, "type": "uint16" } ] }
        """) == ["$.points[1].address: overlaps \"a\" ($.points[0]) in the holding table"])
    }

    @Test func sentinelHexIsTheRegisterBitsReadAsTheType() throws {
        let profile = try parse("""
        { "model": "m", "vendor": "v", "points": [
          { "name": "a", "table": "input", "address": 0, "type": "int16", "sentinels": [{ "raw": "0x8002", "error": "e" }] },
          { "name": "b", "table": "input", "address": 1, "type": "uint16", "sentinels": [{ "raw": "0x8002", "error": "e" }] },
          { "name": "c", "table": "input", "address": 2, "type": "int32", "sentinels": [{ "raw": "0xFFFFFFFF", "error": "e" }] } ] }
        """)
        #expect(profile.points.map { $0.sentinels[0].raw } == [-32766, 32770, -1])
        #expect(problems("""
        { "model": "m", "vendor": "v", "points": [
          { "name": "a", "table": "input", "address": 0, "type": "int16", "sentinels": [{ "raw": "0xZZ", "error": "e" }] },
          { "name": "b", "table": "input", "address": 1, "type": "float32", "sentinels": [{ "raw": 1, "error": "e" }] } ] }
        """) == ["$.points[0].sentinels[0].raw: found \"0xZZ\", expected hex digits after 0x",
                 "$.points[1].sentinels: sentinels apply to integer and enum points only"])
    }

    @Test func notJSONNamesTheFile() {
        do {
            _ = try parse("{ \"model\": ")
            Issue.record("truncated JSON parsed")
        } catch {
            #expect(error.problems.count == 1 && error.problems[0].file == "p.json" && error.problems[0].path == "line 1 column 12")
            #expect(error.message.hasPrefix("unexpected end of the file, expected a value"))
        }
    }

    @Test func decodableGoesThroughTheSameChecks() throws {
        let good = #"{ "model": "m", "vendor": "v", "points": [{ "name": "a", "table": "coil", "address": 1 }] }"#
        #expect(try JSONDecoder().decode(DeviceProfile.self, from: Data(good.utf8)).points.count == 1)
        let bad = #"{ "model": "m", "vendor": "v", "points": [{ "name": "a", "table": "coil" }], "extra": 1 }"#
        do {
            _ = try JSONDecoder().decode(DeviceProfile.self, from: Data(bad.utf8))
            Issue.record("a profile without an address decoded")
        } catch let DecodingError.dataCorrupted(context) {
            let problems = try #require(context.underlyingError as? MappingError).problems
            #expect(problems.map(\.path) == ["$.points[0].address", "$.extra"])
        }
    }
}
