import FoundationEssentials
import Mapping
import Testing

/// The profile keys of confirmed writes, holes and write-only devices, and what the check refuses.
@Suite("Profile keys: readBack, writeDeadline, holes, writeOnly")
struct ProfileWriteKeysTests: ProfileSourceParsing {
    /// The example of mappings/README.md (SchemaTests checks it against the schema too).
    static let documentedProfile = #"""
        {
          "model": "acme-io8", "vendor": "Acme",
          "writeDeadline": "3s",
          "defaults": { "readBack": true },
          "holes": [{ "table": "holding", "from": 10, "to": 19, "description": "reserved" }],
          "points": [
            { "name": "set_point", "table": "holding", "address": 0, "type": "int16", "scale": 0.1, "access": "readwrite" },
            { "name": "alarm_limit", "table": "holding", "address": 20, "type": "int16", "access": "readwrite", "readBack": false }
          ]
        }
        """#

    @Test("The example of mappings/README.md is a valid profile")
    func documentedExample() throws {
        let profile = try parse(Self.documentedProfile)
        #expect(profile.points.map(\.readBack) == [true, false])
        #expect(profile.writeDeadline == .seconds(3) && profile.holes.count == 1)
    }



    private func profile(_ top: String = "", points: String) -> String {
        #"{ "model": "p", "vendor": "v", \#(top) "points": [\#(points)] }"#
    }

    @Test("readBack from defaults applies to writable points only; a point may set it; writeDeadline defaults to 5 s")
    func readBackAndDeadline() throws {
        let profile = try parse(profile(#""defaults": { "readBack": true }, "writeDeadline": "2s","#, points: """
            { "name": "sv", "table": "holding", "address": 0, "type": "int16", "access": "readwrite" },
            { "name": "pv", "table": "input", "address": 0, "type": "int16" },
            { "name": "run", "table": "coil", "address": 0, "access": "write", "readBack": false }
            """))
        #expect(profile.points.map(\.readBack) == [true, false, false])
        #expect(profile.writeDeadline == .seconds(2))
        #expect(!profile.writeOnly && !profile.isWriteOnly)
        let plain = try parse(self.profile(points: #"{ "name": "sv", "table": "holding", "address": 0, "type": "int16", "access": "readwrite" }"#))
        #expect(plain.points[0].readBack == false && plain.writeDeadline == .seconds(5))
    }

    @Test("readBack on a read-only point and a deadline out of range are refused at their paths")
    func badWriteKeys() {
        #expect(problems(profile(#""writeDeadline": "20m","#, points: """
            { "name": "pv", "table": "input", "address": 0, "type": "int16", "readBack": true }
            """)) == [
            "$.points[0].readBack: applies to writable points only (access readwrite or write)",
            "$.writeDeadline: found \"20m\", expected a duration 100ms...10m (milliseconds, or a string such as \"500ms\", \"2s\", \"1m\")",
        ])
    }

    @Test("Holes: a point, setup write or command inside one is refused at its path; a hole must run upwards")
    func holes() throws {
        let valid = try parse(profile(#""holes": [{ "table": "holding", "from": 10, "to": 19 }],"#, points: """
            { "name": "a", "table": "holding", "address": 9, "type": "int16" },
            { "name": "b", "table": "holding", "address": 20, "type": "int16" },
            { "name": "c", "table": "input", "address": 12, "type": "int16" }
            """))
        #expect(valid.holes == [AddressHole(table: .holding, addresses: 10...19)])
        #expect(problems(#"""
            { "model": "p", "vendor": "v",
              "holes": [{ "table": "holding", "from": 10, "to": 19 }, { "table": "coil", "from": 5, "to": 4 }],
              "points": [
                { "name": "a", "table": "holding", "address": 9, "type": "int32" },
                { "name": "b", "table": "holding", "address": 15, "type": "int16" } ],
              "setup": [{ "table": "holding", "address": 19, "value": 1 }],
              "commands": [{ "name": "go", "table": "holding", "address": 10, "codes": { "go": 1 } }] }
            """#) == [
            "$.holes[1].to: found 4, below from (5); expected the last address of the hole",
            "$.points[0].address: \"a\" falls in a hole ($.holes[0]: holding 10...19), addresses the device does not implement",
            "$.points[1].address: \"b\" falls in a hole ($.holes[0]: holding 10...19), addresses the device does not implement",
            "$.setup[0].address: falls in a hole ($.holes[0]: holding 10...19), addresses the device does not implement",
            "$.commands[0].address: falls in a hole ($.holes[0]: holding 10...19), addresses the device does not implement",
        ])
    }

    @Test("writeOnly: every point is write-only, nothing is read back, no bit of a register; a profile with nothing to read is write-only too")
    func writeOnly() throws {
        let profile = try parse(profile(#""writeOnly": true,"#, points: """
            { "name": "sv", "table": "holding", "address": 0, "type": "int16", "access": "write" }
            """))
        #expect(profile.writeOnly && profile.isWriteOnly)
        #expect(try parse(self.profile(points: #"{ "name": "sv", "table": "holding", "address": 0, "type": "int16", "access": "write" }"#)).isWriteOnly)
        #expect(problems(self.profile(#""writeOnly": true,"#, points: """
            { "name": "sv", "table": "holding", "address": 0, "type": "int16", "access": "readwrite" },
            { "name": "on", "table": "holding", "address": 1, "type": "bit", "bit": 2, "access": "write", "readBack": true }
            """)) == [
            "$.points[0].access: found \"readwrite\", expected \"write\": the profile is writeOnly, its device is never read",
            "$.points[1].readBack: a writeOnly device is never read, so nothing can be read back",
            "$.points[1].type: writing one bit reads its register first, which a writeOnly device does not answer",
        ])
    }
}
