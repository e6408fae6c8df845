import Glibc
import Mapping
import Serial
import Testing
import TestSupport

@Suite struct ConfigurationLoaderTests {
    private static let profile = """
    { "model": "acme-t1", "vendor": "Acme",
      "points": [
        { "name": "pv", "table": "input", "address": 0, "type": "int16", "scale": 0.1 },
        { "name": "sv", "table": "holding", "address": 0, "type": "int16", "scale": 0.1, "access": "readwrite", "max": 500 } ] }
    """

    private func write(_ text: String, to path: String) {
        let file = fopen(path, "w")
        fputs(text, file)
        fclose(file)
    }

    /// A folder with `profiles/acme-t1.json` and `gw/modbridge.json` holding `config`.
    private func setUp(_ folder: TemporaryFolder, config: String, extraProfiles: [String: String] = [:]) -> String {
        mkdir(folder.path + "/profiles", 0o755)
        mkdir(folder.path + "/gw", 0o755)
        write(Self.profile, to: folder.path + "/profiles/acme-t1.json")
        for (name, text) in extraProfiles { write(text, to: folder.path + "/profiles/\(name)") }
        write(config, to: folder.path + "/gw/modbridge.json")
        return folder.path + "/gw/modbridge.json"
    }

    @Test func aConfigLoadsWithItsProfilesAndOverrides() throws {
        let folder = TemporaryFolder()
        let file = setUp(folder, config: """
        { "storage": "state", "profiles": ["../profiles"],
          "broker": { "listeners": [{ "host": "127.0.0.1", "port": 0 }] },
          "buses": [{ "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "baud": 19200, "parity": "even", "stopBits": 1, "responseTimeout": "300ms" },
                    { "id": "plc", "type": "tcp", "host": "192.0.2.10" }],
          "registries": [{ "id": "plant", "devices": [
            { "id": "oven-1", "bus": "line1", "unit": 3, "profile": "acme-t1" },
            { "id": "Oven_2", "name": "oven-2", "bus": "plc", "unit": 0, "profile": "acme-t1",
              "overrides": { "points": { "sv": { "max": 300 }, "extra": { "table": "input", "address": 9, "type": "uint16" } },
                             "limits": { "maxRegistersPerRead": 4 } } } ] }] }
        """)
        let loaded = try ConfigurationLoader.load(configFile: file)
        #expect(loaded.storagePath == folder.path + "/gw/state")
        #expect(loaded.config.broker == .embedded(listeners: [.init(host: "127.0.0.1", port: 0)], maximumMessageSize: 262_144))
        #expect(loaded.config.buses[0].kind == .rtu(device: "/dev/ttyUSB0", line: .init(baud: .b19200, parity: "even", dataBits: 8, stopBits: 1, rs485: "auto")))
        #expect(loaded.config.buses[0].responseTimeout == .milliseconds(300))
        #expect(loaded.config.buses[1].kind == .tcp(host: "192.0.2.10", port: 502))
        #expect(loaded.devices.map(\.settings.id) == ["oven-1", "Oven_2"])
        #expect(loaded.devices[0].settings.name == "oven-1" && loaded.devices[0].profile.point(named: "sv")?.maximum == 500)
        let second = loaded.devices[1]
        #expect(second.registry == "plant" && second.bus.id == "plc" && second.unit == 0)
        #expect(second.profile.point(named: "sv")?.maximum == 300)
        #expect(second.profile.point(named: "sv")?.scaling == .linear(scale: 0.1, offset: 0))
        #expect(second.profile.point(named: "extra")?.address == 9)
        #expect(second.profile.limits.maxRegistersPerRead == 4)
        #expect(loaded.profiles["acme-t1"]?.limits.maxRegistersPerRead == 125)
    }

    @Test func problemsOfTheConfigAndOfEveryProfileComeTogether() {
        let folder = TemporaryFolder()
        let file = setUp(folder, config: """
        { "profiles": ["../profiles", "../missing"],
          "buses": [{ "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0" }, { "id": "line1", "type": "tcp", "host": "h" }],
          "registries": [{ "id": "plant", "devices": [
            { "id": "a", "name": "dev-a", "bus": "line1", "unit": 3, "profile": "acme-t1" },
            { "id": "b", "name": "dev-b", "bus": "line1", "unit": 3, "profile": "acme-t2" },
            { "id": "a", "name": "dev-a", "bus": "nowhere", "unit": 248, "profile": "acme-t1",
              "overrides": { "points": { "sv": { "max": "high" } } } } ] }] }
        """, extraProfiles: ["broken.json": #"{ "model": "acme-t3", "vendor": "Acme", "points": [{ "name": "x", "table": "input" }] }"#])
        do {
            _ = try ConfigurationLoader.load(configFile: file)
            Issue.record("a config with errors loaded")
        } catch {
            let lines = error.problems.map(\.description)
            let config = folder.path + "/gw/modbridge.json"
            let broken = folder.path + "/gw/../profiles/broken.json"
            let expected = [
                "\(config): $.buses[1].id: \"line1\" is already the id of $.buses[0]",
                "\(config): $.registries[0].devices[2].bus: found \"nowhere\", expected the id of a bus (line1, line1)",
                "\(config): $.registries[0].devices[2].id: \"a\" is already the id of $.registries[0].devices[0]",
                "\(config): $.registries[0].devices[2].name: \"dev-a\" is already the name of $.registries[0].devices[0] in this registry",
                "\(config): $.registries[0].devices[1].unit: unit 3 on bus \"line1\" is already $.registries[0].devices[0]",
                "\(config): $.profiles[1]: \(folder.path)/gw/../missing: no such folder or file",
                "\(config): $.registries[0].devices[1].profile: found \"acme-t2\", expected one of acme-t1",
                "\(broken): $.points[0].address: missing, expected an integer 0...65535",
                "\(broken): $.points[0].type: missing, expected one of int16, uint16, int32, uint32, int64, uint64, float32, float64, bool, bit, string, enum, flags",
                "\(config): $.registries[0].devices[2] (profile acme-t1 with overrides): $.points[1].max: found \"high\", expected a number",
            ]
            for line in expected where !lines.contains(line) { Issue.record("missing: \(line)\nfound:\n\(lines.joined(separator: "\n"))") }
            #expect(lines.count == expected.count, "\(lines.joined(separator: "\n"))")
        }
    }

    @Test func aProfileIsNamedByItsFile() {
        let folder = TemporaryFolder()
        let file = setUp(folder, config: """
        { "profiles": ["../profiles"], "buses": [{ "id": "b", "type": "tcp", "host": "h" }],
          "registries": [{ "id": "reg", "devices": [{ "id": "dev-1", "bus": "b", "unit": 1, "profile": "acme-t1" }] }] }
        """, extraProfiles: ["other.json": Self.profile])
        do {
            _ = try ConfigurationLoader.load(configFile: file)
            Issue.record("two files with one model loaded")
        } catch {
            let other = folder.path + "/gw/../profiles/other.json"
            #expect(error.problems.map(\.description) == [
                "\(other): $.model: found \"acme-t1\", expected \"other\" (the file name)",
                "\(other): $.model: \"acme-t1\" is already the model of \(folder.path)/gw/../profiles/acme-t1.json",
            ])
        }
    }

    @Test func aProfileMayBeNamedAsAFile() throws {
        let folder = TemporaryFolder()
        let file = setUp(folder, config: """
        { "profiles": ["../profiles/acme-t1.json"], "buses": [{ "id": "b", "type": "tcp", "host": "h" }],
          "registries": [{ "id": "reg", "devices": [{ "id": "dev-1", "bus": "b", "unit": 1, "profile": "acme-t1" }] }] }
        """)
        #expect(try ConfigurationLoader.load(configFile: file).devices.map(\.profile.model) == ["acme-t1"])
        // A file not ending in .json is named by its whole file name.
        rename(folder.path + "/profiles/acme-t1.json", folder.path + "/profiles/acme-t1")
        let renamed = setUp(folder, config: """
        { "profiles": ["../profiles/acme-t1"], "buses": [{ "id": "b", "type": "tcp", "host": "h" }],
          "registries": [{ "id": "reg", "devices": [{ "id": "dev-1", "bus": "b", "unit": 1, "profile": "acme-t1" }] }] }
        """)
        unlink(folder.path + "/profiles/acme-t1.json")
        #expect(try ConfigurationLoader.load(configFile: renamed).devices.count == 1)
    }

    @Test func aMissingConfigFileIsOneClearProblem() {
        #expect(throws: MappingError(file: "/nonexistent/modbridge.json", "cannot read the file: no such file")) {
            try ConfigurationLoader.load(configFile: "/nonexistent/modbridge.json")
        }
    }

    @Test func upstreamModeNeedsAnURL() throws {
        let folder = TemporaryFolder()
        let file = setUp(folder, config: """
        { "profiles": ["../profiles"], "broker": { "mode": "upstream", "upstream": { "url": "mqtt://[::1]:8883", "connection": "shared", "clientId": "gw1", "keepAlive": "30s" } },
          "buses": [{ "id": "b", "type": "simulator", "units": [1, 2] }],
          "registries": [{ "id": "reg", "devices": [{ "id": "dev-1", "bus": "b", "unit": 2, "profile": "acme-t1" }] }] }
        """)
        let loaded = try ConfigurationLoader.load(configFile: file)
        #expect(loaded.config.broker == .upstream(.init(host: "::1", port: 8883, clientID: "gw1", keepAlive: .seconds(30), connection: .shared), listeners: []))
        #expect(loaded.config.buses[0].kind == .simulator(units: [1, 2], line: .init()))
    }
}
