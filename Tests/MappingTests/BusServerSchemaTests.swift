import Foundation
import Testing
import TestSupport

/// `buses[].server` in config.schema.json, checked by jsonschema (Tests/Peers/check_schema.py):
/// the example of docs/shared-bus.md is valid, and the schema rejects what the parser rejects.
@Suite("JSON Schema of buses[].server")
struct BusServerSchemaTests {
    /// The example of docs/shared-bus.md.
    static let documented = #"""
        {
          "buses": [
            { "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "baud": 19200, "parity": "even",
              "server": { "listen": "127.0.0.1:1502", "units": [1, 2], "functions": [3, 4, 6, 16], "maxConnections": 4 } }
          ],
          "registries": [{ "id": "plant1", "devices": [
            { "id": "oven-1", "bus": "line1", "unit": 1, "profile": "delta-dtb" },
            { "id": "oven-2", "bus": "line1", "unit": 2, "profile": "delta-dtb" } ] }]
        }
        """#

    private static func config(server: String) -> String {
        #"{"buses": [{"id": "line1", "type": "tcp", "host": "192.0.2.10", "server": \#(server)}], "registries": [{"id": "plant1", "devices": [{"id": "oven-1", "bus": "line1", "unit": 1, "profile": "acme-t1"}]}]}"#
    }

    @Test("The documented server, an IPv6 one and a minimal one are valid; mistakes are not")
    func schema() throws {
        let folder = TemporaryFolder()
        let documents: [(String, String, String?)] = [
            ("documented", Self.documented, nil),
            ("ipv6", Self.config(server: #"{"listen": "[::1]:1502", "idleTimeout": "5m"}"#), nil),
            ("minimal", Self.config(server: #"{"listen": "192.0.2.1:502"}"#), nil),
            ("no-listen", Self.config(server: #"{"units": [1]}"#), "'listen' is a required property"),
            ("host-name", Self.config(server: #"{"listen": "localhost:1502"}"#), "'localhost:1502' does not match"),
            ("function-8", Self.config(server: #"{"listen": "127.0.0.1:1502", "functions": [3, 8]}"#), "8 is not one of"),
            ("unit-0", Self.config(server: #"{"listen": "127.0.0.1:1502", "units": [0]}"#), "0 is less than the minimum of 1"),
            ("unknown-key", Self.config(server: #"{"listen": "127.0.0.1:1502", "port": 1502}"#), "'port' was unexpected"),
        ]
        var paths: [String] = []
        for (name, text, _) in documents {
            let path = folder.path + "/" + name + ".json"
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            paths.append(path)
        }
        let process = try ChildProcess("python3", ["-B", SchemaTests.script, SchemaTests.configSchema] + paths, inheritStandardError: true)
        var lines: [String] = []
        while let line = process.readLine(timeout: .seconds(120)) { lines.append(line) }
        process.waitForExit()
        #expect(lines.first == "SCHEMA OK \(SchemaTests.configSchema)")
        for ((_, _, message), path) in zip(documents, paths) {
            let line = lines.first { $0.hasPrefix("OK \(path)") || $0.hasPrefix("INVALID \(path):") } ?? "nothing for \(path)"
            if let message {
                #expect(line.hasPrefix("INVALID") && line.contains(message), "\(line)")
            } else {
                #expect(line == "OK \(path)")
            }
        }
    }
}
