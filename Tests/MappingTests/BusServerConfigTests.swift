import Glibc
import Mapping
import Testing
import TestSupport

/// `buses[].server` (docs/shared-bus.md): defaults, IPv4 and IPv6 addresses, errors at their paths.
@Suite struct BusServerConfigTests {
    private static let profile = """
    { "model": "acme-t1", "vendor": "Acme", "points": [{ "name": "pv", "table": "input", "address": 0, "type": "int16" }] }
    """

    /// Loads a config whose only bus has `server` (a JSON object text); its devices are units 3 and 5.
    private func load(server: String) throws(MappingError) -> LoadedConfiguration {
        let folder = TemporaryFolder()
        let profile = folder.path + "/acme-t1.json"
        let config = folder.path + "/modbridge.json"
        for (path, text) in [(profile, Self.profile), (config, """
            { "profiles": ["\(profile)"],
              "buses": [{ "id": "line1", "type": "tcp", "host": "192.0.2.10", "server": \(server) }],
              "registries": [{ "id": "plant", "devices": [
                { "id": "oven-a", "bus": "line1", "unit": 3, "profile": "acme-t1" },
                { "id": "oven-b", "bus": "line1", "unit": 5, "profile": "acme-t1" } ] }] }
            """)] {
            let file = fopen(path, "w")
            fputs(text, file)
            fclose(file)
        }
        return try ConfigurationLoader.load(configFile: config)
    }

    private func problems(server: String) -> [String] {
        do {
            _ = try load(server: server)
            return []
        } catch {
            return error.problems.map { "\($0.path ?? ""): \($0.message)" }
        }
    }

    @Test func onlyListenIsRequiredAndTheRestHasSafeDefaults() throws {
        let server = try #require(try load(server: #"{ "listen": "127.0.0.1:1502" }"#).config.buses.first?.server)
        #expect(server == BusServerSettings(host: "127.0.0.1", port: 1502, units: nil, functions: [1, 2, 3, 4],
                                            maxConnections: 4, idleTimeout: .seconds(60)))
    }

    @Test func everyKeyAndAnIPv6Address() throws {
        let server = try #require(try load(server: """
            { "listen": "[::1]:15020", "units": [3], "functions": [3, 4, 6, 16], "maxConnections": 2, "idleTimeout": "5m" }
            """).config.buses.first?.server)
        #expect(server == BusServerSettings(host: "::1", port: 15020, units: [3], functions: [3, 4, 6, 16],
                                            maxConnections: 2, idleTimeout: .seconds(300)))
    }

    @Test func mistakesAreReportedAtTheirPaths() {
        let found = problems(server: """
            { "listen": "localhost:1502", "units": [0, 3, 3], "functions": [3, 8], "maxConnections": 0, "idle": "1s" }
            """)
        let base = "$.buses[0].server"
        let expected = [
            "\(base).listen: found \"localhost:1502\", expected host:port with a numeric address, e.g. \"127.0.0.1:1502\" or \"[::1]:1502\"",
            "\(base).units[0]: found 0, expected a unit id 1...247",
            "\(base).units: a value is listed twice",
            "\(base).functions[1]: found 8, expected one of the function codes 1, 2, 3, 4, 5, 6, 15, 16, 23",
            "\(base).maxConnections: found 0, expected an integer 1...64",
            "\(base).idle: unknown key",
        ]
        for line in expected where !found.contains(line) { Issue.record("missing: \(line)\nfound:\n\(found.joined(separator: "\n"))") }
        #expect(found.count == expected.count, "\(found.joined(separator: "\n"))")
        #expect(problems(server: "{}") == ["\(base).listen: missing, expected host:port with a numeric address, e.g. \"127.0.0.1:1502\" or \"[::1]:1502\""])
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "256.0.0.1:502", "1.2.3:502", "[::1]", "[::1]502", "[host]:502", "::1:502", ":502"])
    func listenThatIsNotAnAddress(_ listen: String) {
        #expect(problems(server: #"{ "listen": "\#(listen)" }"#).count == 1, "\(listen) was taken")
    }
}
