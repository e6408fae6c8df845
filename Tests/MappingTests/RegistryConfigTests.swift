import Glibc
import Mapping
import Testing
import TestSupport

/// Registries, MQTT devices, credentials, aliases and listeners in the gateway config: what
/// Mapping parses and checks without TLS (the gateway's RegistryLoader checks the rest).
@Suite struct RegistryConfigTests {
    static let hash = "$pbkdf2-sha256$i=600000$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
    static let fingerprint = String(repeating: "AB:", count: 31) + "AB"

    /// `config` written as `gw/modbridge.json` in a new folder; its path.
    private func write(_ config: String, in folder: TemporaryFolder) -> String {
        mkdir(folder.path + "/gw", 0o755)
        let path = folder.path + "/gw/modbridge.json"
        let file = fopen(path, "w")
        fputs(config, file)
        fclose(file)
        return path
    }

    /// Every problem of `config`, as `modbridge check` prints them, without the file name.
    private func problems(_ config: String) -> [String] {
        let folder = TemporaryFolder()
        let file = write(config, in: folder)
        do {
            _ = try ConfigurationLoader.load(configFile: file)
            return []
        } catch {
            return error.problems.map { [$0.path, $0.message].compactMap { $0 }.joined(separator: ": ") }
        }
    }

    /// A config of one registry `plant` holding `devices` (JSON), with `registry` members added.
    private func config(devices: String, registry: String = "", top: String = "") -> String {
        #"{\#(top) "registries": [{ "id": "plant", \#(registry) "devices": [\#(devices)] }] }"#
    }

    @Test func aPureIoTCoreLoadsWithCredentialsAliasesAndTLSListeners() throws {
        let folder = TemporaryFolder()
        let file = write(#"""
        { "broker": { "listeners": [{ "host": "0.0.0.0", "port": 8883, "tls": { "certificate": "certs/server.pem", "key": "/etc/key.pem" } },
                                    { "host": "127.0.0.1", "port": 1883, "insecure": true }],
                      "messagesPerSecond": 10 },
          "registries": [{ "id": "Plant_1", "name": "plant-1", "disabled": true,
                           "credentials": { "passwords": ["\#(Self.hash)"], "certificates": [{ "fingerprint": "\#(Self.fingerprint)" }] },
                           "devices": [
            { "id": "oven-1", "aliases": ["plant/oven1", "ovens/one/"],
              "credentials": { "certificates": [{ "file": "certs/oven-1.pem" }, { "file": "/abs/oven.pem" }] } },
            { "id": "Sensor_2", "name": "sensor-2" } ] }] }
        """#, in: folder)
        let loaded = try ConfigurationLoader.load(configFile: file)
        let gw = folder.path + "/gw"
        #expect(loaded.config.buses.isEmpty && loaded.devices.isEmpty)
        #expect(loaded.config.messagesPerSecond == 10)
        #expect(loaded.config.broker == .embedded(listeners: [
            .init(host: "0.0.0.0", port: 8883, tls: .init(certificate: gw + "/certs/server.pem", key: "/etc/key.pem"), path: "$.broker.listeners[0]"),
            .init(host: "127.0.0.1", port: 1883, insecure: true, path: "$.broker.listeners[1]"),
        ], maximumMessageSize: 262_144))
        let registry = try #require(loaded.config.registries.first)
        #expect(registry.id == "Plant_1" && registry.name == "plant-1" && registry.disabled)
        #expect(registry.credentials.passwords == [.init(hash: Self.hash, path: "$.registries[0].credentials.passwords[0]")])
        #expect(registry.credentials.certificates == [.init(source: .fingerprint(String(repeating: "ab", count: 32)),
                                                            path: "$.registries[0].credentials.certificates[0]")])
        let oven = registry.devices[0]
        #expect(oven.name == "oven-1" && oven.modbus == nil)
        #expect(oven.aliases == ["plant/oven1/", "ovens/one/"])
        #expect(oven.aliasPaths == ["$.registries[0].devices[0].aliases[0]", "$.registries[0].devices[0].aliases[1]"])
        #expect(oven.credentials.certificates.map(\.source) == [.file(gw + "/certs/oven-1.pem"), .file("/abs/oven.pem")])
        #expect(registry.devices[1].name == "sensor-2" && registry.devices[1].credentials == CredentialSettings())
    }

    @Test func aRegistryWithoutDisabledOrNameTakesTheDefaults() throws {
        #expect(problems(config(devices: #"{ "id": "oven-1" }"#)) == [])
        let folder = TemporaryFolder()
        let loaded = try ConfigurationLoader.load(configFile: write(config(devices: #"{ "id": "oven-1" }"#), in: folder))
        #expect(loaded.config.registries[0].name == "plant" && !loaded.config.registries[0].disabled)
    }

    @Test func busUnitAndProfileGoTogether() {
        let together = "missing: bus, unit and profile go together (a Modbus device the gateway polls needs all three; an MQTT device has none)"
        #expect(problems(config(devices: #"{ "id": "a", "name": "dev-a", "bus": "line1" }"#, top: #""buses": [{ "id": "line1", "type": "tcp", "host": "h" }],"#)) == [
            "$.registries[0].devices[0].unit: \(together)",
            "$.registries[0].devices[0].profile: \(together)",
        ])
        #expect(problems(config(devices: #"{ "id": "oven-1", "overrides": {} }"#)) == [
            "$.registries[0].devices[0].overrides: applies to a Modbus device (with bus, unit and profile) only",
        ])
        #expect(problems(config(devices: #"{ "id": "oven-1", "bus": "line1", "unit": 1, "profile": "p" }"#))
            .contains("$.registries[0].devices[0].bus: found \"line1\", expected the id of a bus (the config has no buses)"))
    }

    @Test func idsAndNamesFollowTheirRulesAndRegistryAndDeviceIdsAreOneSpace() {
        #expect(problems(#"""
        { "registries": [
            { "id": "plant", "devices": [{ "id": "plant" }, { "id": "bad id" }, { "id": "Oven_1" }, { "id": "oven-2", "name": "Oven 2" }] },
            { "id": "oven-2", "name": "x", "devices": [] },
            { "id": "P", "devices": [] } ] }
        """#) == [
            "$.registries[0].devices[1].id: found \"bad id\", expected an id of 1-50 letters, digits, '_' or '-'",
            "$.registries[0].devices[2].name: missing, and the id \"Oven_1\" is not a valid name (3-63 lowercase letters, digits or '-'); give a name",
            "$.registries[0].devices[3].name: found \"Oven 2\", expected a name of 3-63 lowercase letters, digits or '-'",
            "$.registries[1].name: found \"x\", expected a name of 3-63 lowercase letters, digits or '-'",
            "$.registries[2].name: missing, and the id \"P\" is not a valid name (3-63 lowercase letters, digits or '-'); give a name",
            "$.registries[0].devices[0].id: \"plant\" is already the id of $.registries[0]",
            "$.registries[1].id: \"oven-2\" is already the id of $.registries[0].devices[3]",
        ])
    }

    @Test func aPlaintextPasswordIsRefusedAndNeverEchoed() {
        let refused = "a plaintext password is not accepted: store its hash, made by `modbridge passwd`"
        let found = problems(config(devices: #"{ "id": "oven-1", "credentials": { "passwords": ["Correct-Horse-42-battery", "short1A", "alllowercaseletters", 7] } }"#,
                                    registry: #""credentials": { "passwords": ["\#(Self.hash)"] },"#))
        #expect(found == [
            "$.registries[0].devices[0].credentials.passwords[0]: \(refused)",
            "$.registries[0].devices[0].credentials.passwords[1]: \(refused); it is also weak: it has 7 characters, at least 14 are needed",
            "$.registries[0].devices[0].credentials.passwords[2]: \(refused); it is also weak: it has characters from 1 of lowercase, uppercase, digits and other characters, at least 3 are needed",
            "$.registries[0].devices[0].credentials.passwords[3]: found 7, expected a password hash made by `modbridge passwd` ($pbkdf2-sha256$...)",
        ])
        for secret in ["Correct-Horse-42-battery", "short1A", "alllowercaseletters"] {
            #expect(!found.joined().contains(secret))
        }
    }

    @Test func certificatesAreAFileOrAFingerprint() {
        #expect(problems(config(devices: #"""
            { "id": "oven-1", "credentials": { "certificates": [
                {}, { "file": "a.pem", "fingerprint": "\#(Self.fingerprint)" }, { "fingerprint": "abcd" },
                { "fingerprint": "\#(String(repeating: "0", count: 40))" }, { "fingerprint": "\#(String(repeating: "g", count: 64))" }, { "path": "x.pem" } ],
              "password": [] } }
            """#)) == [
            "$.registries[0].devices[0].credentials.certificates[0]: missing, expected {\"file\": path} or {\"fingerprint\": hex}",
            "$.registries[0].devices[0].credentials.certificates[1]: give either file or fingerprint, not both",
            "$.registries[0].devices[0].credentials.certificates[2].fingerprint: found \"abcd\", expected a SHA-256 fingerprint (64 hex digits, colons allowed) or a legacy SHA-1 one (40)",
            "$.registries[0].devices[0].credentials.certificates[4].fingerprint: found \"\(String(repeating: "g", count: 40))…\", expected a SHA-256 fingerprint (64 hex digits, colons allowed) or a legacy SHA-1 one (40)",
            "$.registries[0].devices[0].credentials.certificates[5].path: unknown key",
            "$.registries[0].devices[0].credentials.certificates[5]: missing, expected {\"file\": path} or {\"fingerprint\": hex}",
            "$.registries[0].devices[0].credentials.password: unknown key (did you mean 'passwords'?)",
        ])
    }

    @Test func aliasesAreAtMostFiveValidTopicPrefixes() {
        let path = "$.registries[0].devices[0].aliases"
        #expect(problems(config(devices: #"{ "id": "oven-1", "aliases": ["", "a/+/b", "a/#", "$sys/x", "a\u0001b", "//"] }"#)) == [
            "\(path): 6 aliases, expected at most 5",
            "\(path)[0]: found \"\", expected a topic prefix such as \"plant/oven1/\", not an empty string",
            "\(path)[1]: found \"a/+/b\", expected a topic prefix without the wildcards '+' and '#'",
            "\(path)[2]: found \"a/#\", expected a topic prefix without the wildcards '+' and '#'",
            "\(path)[3]: found \"$sys/x\", expected a topic prefix that does not start with '$' (reserved for $devices, $registries, $me, $monitoring)",
            "\(path)[4]: found \"a\u{01}b\", expected a valid topic prefix (no control characters)",
            "\(path)[5]: found \"//\", expected a valid topic prefix with at least one level name, such as \"plant/oven1/\"",
        ])
    }

    @Test func inOneRegistryNoAliasIsAPrefixOfAnother() {
        #expect(problems(#"""
        { "registries": [
            { "id": "plant", "devices": [{ "id": "oven-1", "aliases": ["plant/oven1"] }, { "id": "oven-2", "aliases": ["plant/", "plant/oven1/"] },
                                         { "id": "oven-3", "aliases": ["plant/oven10"] }] },
            { "id": "other", "devices": [{ "id": "oven-4", "aliases": ["plant/oven1"] }] } ] }
        """#) == [
            "$.registries[0].devices[1].aliases[0]: \"plant/\" is a prefix of \"plant/oven1/\" ($.registries[0].devices[0].aliases[0]): in one registry no alias may be a prefix of another",
            "$.registries[0].devices[1].aliases[1]: \"plant/oven1/\" is already the alias at $.registries[0].devices[0].aliases[0]",
            "$.registries[0].devices[1].aliases[1]: \"plant/\" is a prefix of \"plant/oven1/\" ($.registries[0].devices[1].aliases[0]): in one registry no alias may be a prefix of another",
            "$.registries[0].devices[2].aliases[0]: \"plant/\" is a prefix of \"plant/oven10/\" ($.registries[0].devices[1].aliases[0]): in one registry no alias may be a prefix of another",
        ])
    }

    @Test func listenersAndTheMessageRateAreChecked() {
        #expect(problems(config(devices: "", top: #"""
            "broker": { "listeners": [{ "host": "::", "port": 8883, "insecure": "yes", "tls": { "certificate": "" , "cert": "x" } }],
                        "messagesPerSecond": 0 },
            """#)) == [
            "$.broker.listeners[0].insecure: found \"yes\", expected true or false",
            "$.broker.listeners[0].tls.certificate: found \"\", expected the path of the server's certificate chain (PEM)",
            "$.broker.listeners[0].tls.key: missing, expected the path of the server's private key (PEM)",
            "$.broker.listeners[0].tls.cert: unknown key",
            "$.broker.messagesPerSecond: found 0, expected an integer 1...1000000",
        ])
    }
}
