import Foundation
import TestSupport
import Testing

/// The JSON Schemas in schemas/ against jsonschema (Python, draft 2020-12), a validator no one here
/// wrote, run through Tests/Peers/check_schema.py: both schemas are valid schemas, every profile in
/// mappings/ and every config in examples/ follows its schema, the examples in
/// docs/configuration.md do too, and small invalid documents are rejected, each for its reason.
/// The peer prints one line per document ("OK path" / "INVALID path: message") and exits; tests
/// read its lines to the end and its exit status, never the clock.
@Suite("JSON Schemas checked by jsonschema, a validator no one here wrote")
struct SchemaTests {
    /// Tests/MappingTests/<this file> → the repository root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = root.appendingPathComponent("Tests/Peers/check_schema.py").path
    static let profileSchema = root.appendingPathComponent("schemas/profile.schema.json").path
    static let configSchema = root.appendingPathComponent("schemas/config.schema.json").path

    enum Kind: String, Sendable, CaseIterable {
        case profile, config

        var schema: String { self == .profile ? SchemaTests.profileSchema : SchemaTests.configSchema }
    }

    struct Outcome {
        /// The peer's exit code; nil if it was ended by a signal.
        var exitCode: Int32?
        var lines: [String]
    }

    /// Runs check_schema.py on `schema` and `documents` to its end.
    private func check(_ schema: String, _ documents: [String]) throws -> Outcome {
        let process = try ChildProcess("python3", ["-B", Self.script, schema] + documents, inheritStandardError: true)
        var lines: [String] = []
        while let line = process.readLine(timeout: .seconds(120)) { lines.append(line) }
        let status = process.waitForExit()
        return Outcome(exitCode: ChildProcess.exitCode(status), lines: lines)
    }

    /// Every `*.json` in the repository's `folder`, sorted.
    private static func jsonFiles(in folder: String) -> [String] {
        let path = root.appendingPathComponent(folder).path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { path + "/" + $0 }
    }

    /// Checks every file against `kind`'s schema: each must be reported OK.
    private func expectAllValid(_ files: [String], _ kind: Kind) throws {
        let outcome = try check(kind.schema, files)
        let expected = ["SCHEMA OK \(kind.schema)"] + files.map { "OK \($0)" }
        #expect(outcome.lines == expected, "not every file follows \(kind.rawValue).schema.json")
        #expect(outcome.exitCode == 0)
    }

    /// Writes `documents` (name → JSON text) into `folder`; their paths, in the same order.
    private func write(_ documents: [(String, String)], into folder: TemporaryFolder) throws -> [String] {
        try documents.map { name, text in
            let path = folder.path + "/" + name + ".json"
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            return path
        }
    }

    // MARK: - The schemas themselves

    @Test("Each schema is a valid draft 2020-12 schema (Draft202012Validator.check_schema)", arguments: Kind.allCases)
    func schemaIsValid(kind: Kind) throws {
        let outcome = try check(kind.schema, [])
        #expect(outcome.lines == ["SCHEMA OK \(kind.schema)"])
        #expect(outcome.exitCode == 0)
    }

    // MARK: - Shipped files

    @Test("Every profile in mappings/ follows profile.schema.json")
    func mappingsFollowTheSchema() throws {
        let files = Self.jsonFiles(in: "mappings")
        try #require(!files.isEmpty, "mappings/ holds no *.json: nothing would be checked")
        try expectAllValid(files, .profile)
    }

    @Test("Every config in examples/ follows config.schema.json")
    func examplesFollowTheSchema() throws {
        let files = Self.jsonFiles(in: "examples")
        try #require(!files.isEmpty, "examples/ holds no *.json: nothing would be checked")
        try expectAllValid(files, .config)
    }

    // MARK: - Documents written here

    /// The profile example of docs/configuration.md.
    static let documentedProfile = #"""
        {
          "$schema": "../schemas/profile.schema.json",
          "model": "delta-dtb",
          "vendor": "Delta Electronics",
          "description": "DTB series (also Omega CN7500). Writes need CoSH on (panel).",
          "limits": { "maxRegistersPerRead": 8, "maxBitsPerRead": 16, "writeMultiple": false },
          "defaults": { "interval": "1s", "report": { "onChange": true, "heartbeat": "60s" } },
          "points": [
            { "name": "pv", "table": "holding", "address": 4096, "type": "int16", "scale": 0.1, "unit": "°C",
              "sentinels": [{ "raw": "0x8003", "error": "sensor not connected" }] },
            { "name": "sv", "table": "holding", "address": 4097, "type": "int16", "scale": 0.1, "unit": "°C",
              "access": "readwrite", "min": -200, "max": 1300 },
            { "name": "running", "table": "coil", "address": 2068, "type": "bool", "access": "readwrite" }
          ]
        }
        """#

    /// The config example of docs/configuration.md, its first device with the overrides example.
    static let documentedConfig = #"""
        {
          "$schema": "schemas/config.schema.json",
          "broker": { "listeners": [{ "host": "127.0.0.1", "port": 1883 }] },
          "storage": "/var/lib/modbridge",
          "profiles": ["mappings"],
          "buses": [
            { "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "baud": 9600, "parity": "even" },
            { "id": "plc", "type": "tcp", "host": "192.0.2.10", "port": 502 }
          ],
          "registries": [
            { "id": "plant1", "devices": [
              { "id": "oven-1", "name": "oven-1", "bus": "line1", "unit": 3, "profile": "delta-dtb",
                "overrides": {
                  "limits": { "maxRegistersPerRead": 4 },
                  "points": { "sv": { "max": 400 }, "pv": { "interval": "200ms" } }
                } }
            ] }
          ]
        }
        """#

    /// The IoT Core example of docs/configuration.md: TLS and insecure listeners, a registry with
    /// credentials, a polled device and an MQTT device with aliases, and no buses of its own here.
    static let documentedIoTConfig = #"""
        {
          "$schema": "schemas/config.schema.json",
          "broker": {
            "listeners": [
              { "host": "0.0.0.0", "port": 8883, "tls": { "certificate": "tls/server.pem", "key": "tls/server.key" } },
              { "host": "127.0.0.1", "port": 1883, "insecure": true }
            ],
            "messagesPerSecond": 100
          },
          "registries": [
            { "id": "plant1", "name": "plant-1",
              "credentials": { "passwords": ["$pbkdf2-sha256$i=600000$3o6S1Ypu0Oq+eMU4gC8Bmw$sQ0V1wAZg4bYd0mK6Qe5vN1f8m0B2u6Xk3c9y7Zp4tU"] },
              "devices": [
                { "id": "oven-2", "aliases": ["plant/oven2/"],
                  "credentials": { "certificates": [{ "file": "certs/oven-2.pem" },
                                                    { "fingerprint": "5F:3C:A0:9B:11:02:7E:D4:6A:C8:93:0E:B7:21:44:F9:60:1D:AB:3E:8C:57:92:06:FE:14:B0:7A:C3:D5:68:2B" }] } },
                { "id": "sensor-7", "credentials": { "certificates": [{ "fingerprint": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3" }] } }
              ] }
          ]
        }
        """#

    /// The upstream example of docs/configuration.md (its broker, and its device with an upstream
    /// login) in a whole config.
    static let documentedUpstreamConfig = #"""
        {
          "$schema": "schemas/config.schema.json",
          "broker": {
            "mode": "both",
            "listeners": [{ "host": "127.0.0.1", "port": 1883, "anonymousAs": "plant1" }],
            "upstream": {
              "url": "mqtts://mqtt.example.com:8883",
              "ca": "tls/upstream-ca.pem",
              "connection": "per-device",
              "topics": { "device": "plant/{id}", "registry": "plant/registries/{id}" },
              "queue": { "maxBytes": 67108864, "maxAge": "168h", "replayRate": 1000, "sync": "1s" }
            }
          },
          "buses": [{ "id": "sim", "type": "simulator", "units": [1, 2] }],
          "registries": [
            { "id": "plant1", "devices": [
              { "id": "oven-1", "bus": "sim", "unit": 1, "profile": "modbridge-simulator" },
              { "id": "oven-2", "bus": "sim", "unit": 2, "profile": "modbridge-simulator",
                "upstream": { "username": "plant1-oven-2", "passwordFile": "secrets/oven-2.password" } }
            ] }
          ]
        }
        """#

    /// A shared upstream connection with every key of its own.
    static let sharedUpstreamConfig = #"""
        {
          "broker": {
            "mode": "upstream",
            "listeners": [{ "host": "0.0.0.0", "port": 9100, "protocol": "http", "serve": ["metrics"] }],
            "upstream": {
              "url": "mqtts://[2001:db8::1]", "ca": "ca.pem", "serverName": "mqtt.example.com", "connection": "shared",
              "clientId": "gw-7", "username": "gateway", "passwordFile": "secret.txt", "certificate": "gw.pem", "key": "gw.key",
              "keepAlive": "30s", "cleanSession": true, "commandDedupWindow": "5m", "reconnect": { "initial": "500ms", "max": "2m" }
            }
          },
          "buses": [{ "id": "sim", "type": "simulator" }],
          "registries": [{ "id": "plant1", "devices": [{ "id": "oven-1", "bus": "sim", "unit": 1, "profile": "modbridge-simulator" }] }]
        }
        """#

    static let validPoint = #"{"name": "pv", "table": "holding", "address": 0, "type": "int16"}"#
    static let validBus = #"{"id": "line1", "type": "rtu", "device": "/dev/ttyUSB0"}"#
    static let validDevice = #"{"id": "oven-1", "bus": "line1", "unit": 1, "profile": "acme-t1"}"#

    /// A small profile; the invalid profiles below are this one with one thing wrong.
    static func profile(point: String = validPoint, defaults: String = #"{"interval": "1s"}"#) -> String {
        #"{"model": "acme-t1", "vendor": "Acme", "defaults": \#(defaults), "points": [\#(point)]}"#
    }

    /// A small config; the invalid configs below are this one with one thing wrong.
    static func config(bus: String = validBus, device: String = validDevice, extra: String = "") -> String {
        #"{\#(extra)"buses": [\#(bus)], "registries": [{"id": "plant1", "devices": [\#(device)]}]}"#
    }

    @Test("The examples in docs/configuration.md and mappings/README.md and the documents the invalid ones are made from are valid")
    func validDocuments() throws {
        let folder = TemporaryFolder()
        let profiles = try write([("documented-profile", Self.documentedProfile), ("small-profile", Self.profile()),
                                  ("documented-write-keys-profile", ProfileWriteKeysTests.documentedProfile)], into: folder)
        let configs = try write([("documented-config", Self.documentedConfig), ("documented-iot-config", Self.documentedIoTConfig),
                                 ("documented-upstream-config", Self.documentedUpstreamConfig), ("shared-upstream-config", Self.sharedUpstreamConfig),
                                 ("small-config", Self.config())], into: folder)
        try expectAllValid(profiles, .profile)
        try expectAllValid(configs, .config)
    }

    /// A document with one thing wrong, and a piece of the validator's message that names it.
    struct InvalidDocument: Sendable, CustomTestStringConvertible {
        var name: String
        var kind: Kind
        var text: String
        var message: String

        var testDescription: String { name }

        static let all: [InvalidDocument] = [
            InvalidDocument(name: "unknown key in a point (sacle)", kind: .profile,
                            text: profile(point: #"{"name": "pv", "table": "holding", "address": 0, "type": "int16", "sacle": 0.1}"#),
                            message: "'sacle' was unexpected"),
            InvalidDocument(name: "unknown top-level key in a config (brokers)", kind: .config,
                            text: config(extra: #""brokers": {}, "#), message: "'brokers' was unexpected"),
            InvalidDocument(name: "point name with a capital (Pv)", kind: .profile,
                            text: profile(point: #"{"name": "Pv", "table": "holding", "address": 0, "type": "int16"}"#),
                            message: "'Pv' does not match"),
            InvalidDocument(name: "type bit without bit", kind: .profile,
                            text: profile(point: #"{"name": "alarm", "table": "holding", "address": 0, "type": "bit"}"#),
                            message: "'bit' is a required property"),
            InvalidDocument(name: "type enum without labels", kind: .profile,
                            text: profile(point: #"{"name": "mode", "table": "holding", "address": 0, "type": "enum"}"#),
                            message: "'labels' is a required property"),
            InvalidDocument(name: "rtu bus without device", kind: .config,
                            text: config(bus: #"{"id": "line1", "type": "rtu"}"#), message: "'device' is a required property"),
            InvalidDocument(name: "bad duration \"5 sec\" in a profile's defaults", kind: .profile,
                            text: profile(defaults: #"{"interval": "5 sec"}"#), message: "'5 sec' does not match"),
            InvalidDocument(name: "bad duration \"5 sec\" in a bus", kind: .config,
                            text: config(bus: #"{"id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "responseTimeout": "5 sec"}"#),
                            message: "'5 sec' does not match"),
            InvalidDocument(name: "baud 9601, not one of the rates", kind: .config,
                            text: config(bus: #"{"id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "baud": 9601}"#),
                            message: "9601 is not one of [1200, 2400"),
            InvalidDocument(name: "device unit 300", kind: .config,
                            text: config(device: #"{"id": "oven-1", "bus": "line1", "unit": 300, "profile": "acme-t1"}"#),
                            message: "300 is greater than the maximum of 255"),
            InvalidDocument(name: "device with a bus but no unit or profile", kind: .config,
                            text: config(device: #"{"id": "oven-1", "bus": "line1"}"#), message: "'unit' is a dependency of 'bus'"),
            InvalidDocument(name: "six aliases", kind: .config,
                            text: config(device: #"{"id": "oven-1", "aliases": ["a/", "b/", "c/", "d/", "e/", "f/"]}"#), message: "is too long"),
            InvalidDocument(name: "alias with a wildcard", kind: .config,
                            text: config(device: #"{"id": "oven-1", "aliases": ["plant/+/x"]}"#), message: "'plant/+/x' does not match"),
            InvalidDocument(name: "alias starting with $", kind: .config,
                            text: config(device: #"{"id": "oven-1", "aliases": ["$me/x"]}"#), message: "'$me/x' does not match"),
            InvalidDocument(name: "plaintext password", kind: .config,
                            text: config(device: #"{"id": "oven-1", "credentials": {"passwords": ["Correct-Horse-42"]}}"#),
                            message: "'Correct-Horse-42' does not match"),
            InvalidDocument(name: "certificate with both file and fingerprint", kind: .config,
                            text: config(device: #"{"id": "oven-1", "credentials": {"certificates": [{"file": "a.pem", "fingerprint": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}]}}"#),
                            message: "is not valid under any of the given schemas"),
            InvalidDocument(name: "TLS listener without a key", kind: .config,
                            text: config(extra: #""broker": {"listeners": [{"host": "::", "port": 8883, "tls": {"certificate": "s.pem"}}]}, "#),
                            message: "'key' is a required property"),
            InvalidDocument(name: "upstream in embedded mode", kind: .config,
                            text: config(extra: #""broker": {"upstream": {"url": "mqtt://b"}}, "#), message: "False schema does not allow"),
            InvalidDocument(name: "mode both without upstream", kind: .config,
                            text: config(extra: #""broker": {"mode": "both"}, "#), message: "'upstream' is a required property"),
            InvalidDocument(name: "an MQTT listener in upstream mode", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "listeners": [{"host": "::1", "port": 0}], "upstream": {"url": "mqtt://b"}}, "#),
                            message: "'protocol' is a required property"),
            InvalidDocument(name: "the console in upstream mode", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "listeners": [{"host": "::1", "port": 0, "protocol": "http", "serve": ["metrics", "console"]}], "upstream": {"url": "mqtt://b"}}, "#),
                            message: "'metrics' was expected"),
            InvalidDocument(name: "upstream url http://", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "http://b"}}, "#), message: "'http://b' does not match"),
            InvalidDocument(name: "upstream ca with mqtt://", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtt://b", "ca": "ca.pem"}}, "#),
                            message: "False schema does not allow 'ca.pem'"),
            InvalidDocument(name: "upstream clientId with per-device connections", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtts://b", "clientId": "gw"}}, "#),
                            message: "False schema does not allow 'gw'"),
            InvalidDocument(name: "upstream password and passwordFile", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtts://b", "connection": "shared", "username": "u", "password": "p", "passwordFile": "f"}}, "#),
                            message: "should not be valid under {'required': ['password', 'passwordFile']}"),
            InvalidDocument(name: "upstream password without username", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtts://b", "connection": "shared", "password": "p"}}, "#),
                            message: "'username' is a dependency of 'password'"),
            InvalidDocument(name: "upstream certificate without key", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtts://b", "connection": "shared", "certificate": "c.pem"}}, "#),
                            message: "'key' is a dependency of 'certificate'"),
            InvalidDocument(name: "upstream topic template without {id}", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtts://b", "topics": {"device": "plant/dev"}}}, "#),
                            message: "'plant/dev' does not match"),
            InvalidDocument(name: "upstream queue.maxBytes below 64 KiB", kind: .config,
                            text: config(extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtts://b", "queue": {"maxBytes": 100}}}, "#),
                            message: "100 is less than the minimum of 65536"),
            InvalidDocument(name: "upstream login on an MQTT device", kind: .config,
                            text: config(device: #"{"id": "s7", "upstream": {"username": "x"}}"#, extra: #""broker": {"mode": "upstream", "upstream": {"url": "mqtts://b"}}, "#),
                            message: "'bus' is a dependency of 'upstream'"),
            InvalidDocument(name: "rtu-over-tcp bus without a port", kind: .config,
                            text: config(bus: #"{"id": "line1", "type": "rtu-over-tcp", "host": "nport"}"#),
                            message: "'port' is a required property"),
            InvalidDocument(name: "a framing that is neither rtu nor ascii", kind: .config,
                            text: config(bus: #"{"id": "line1", "type": "rtu", "device": "/dev/ttyS0", "framing": "binary"}"#),
                            message: "'binary' is not one of ['rtu', 'ascii']"),
            InvalidDocument(name: "a framing on a Modbus TCP bus", kind: .config,
                            text: config(bus: #"{"id": "line1", "type": "tcp", "host": "plc", "framing": "ascii"}"#),
                            message: "False schema does not allow 'ascii'"),
            InvalidDocument(name: "a config without registries", kind: .config,
                            text: #"{"buses": [\#(validBus)]}"#, message: "'registries' is a required property"),
        ]
    }

    @Test("An invalid document is rejected by the schema, for its reason", arguments: InvalidDocument.all)
    func invalidDocumentIsRejected(document: InvalidDocument) throws {
        let folder = TemporaryFolder()
        let path = try write([("invalid", document.text)], into: folder)[0]
        let outcome = try check(document.kind.schema, [path])
        try #require(outcome.lines.count == 2, "expected a schema line and a document line, got \(outcome.lines)")
        #expect(outcome.lines[0] == "SCHEMA OK \(document.kind.schema)")
        #expect(outcome.lines[1].hasPrefix("INVALID \(path): "))
        #expect(outcome.lines[1].contains(document.message), "\(outcome.lines[1]) does not say \(document.message)")
        #expect(outcome.exitCode == 1)
    }
}
