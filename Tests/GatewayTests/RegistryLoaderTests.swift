import Broker
import Foundation
import GatewayCore
import Mapping
import Registry
import Testing
import TestSupport
import TLS

/// The gateway's stage of config loading: certificate files and fingerprints, password hashes,
/// TLS listeners, reported with Mapping's problems in one error.
@Suite struct RegistryLoaderTests {
    /// A fast hash for tests, at the lowest count the loader accepts.
    static let goodHash: String = (try? PasswordHash.make(password: "Correct-Horse-42", iterations: RegistryLoader.minimumHashIterations).encoded) ?? ""

    /// `config` written as `modbridge.json` in the certificates' folder; its path.
    private func write(_ config: String, in certificates: TestCertificates) throws -> String {
        try certificates.write("modbridge.json", config)
        return certificates.path("modbridge.json")
    }

    /// Every problem, without the file name.
    private func problems(_ file: String) -> [String] {
        do {
            _ = try RegistryLoader.load(configFile: file)
            return []
        } catch {
            return error.problems.map { [$0.path, $0.message].compactMap { $0 }.joined(separator: ": ") }
        }
    }

    @Test func filesFingerprintsAndHashesBuildTheDirectoryAndListeners() throws {
        let certificates = try TestCertificates()
        let device = try Certificate.load(certificates.pem("device"))
        let expired = try Certificate.load(certificates.pem("device-expired"))
        let file = try write(#"""
        { "broker": { "listeners": [{ "host": "127.0.0.1", "port": 0, "tls": { "certificate": "server.pem", "key": "server.key" } },
                                    { "host": "127.0.0.1", "port": 0, "insecure": true }], "messagesPerSecond": 5 },
          "registries": [{ "id": "plant", "disabled": true,
                           "credentials": { "certificates": [{ "fingerprint": "\#(try certificates.fingerprintByCLI("device-expired", digest: "sha1"))" }] },
                           "devices": [
            { "id": "oven-1", "aliases": ["plant/oven1"],
              "credentials": { "passwords": ["\#(Self.goodHash)"], "certificates": [{ "file": "device.pem" }] } } ] }] }
        """#, in: certificates)
        let loaded = try RegistryLoader.load(configFile: file)
        let hash = try PasswordHash(parsing: Self.goodHash)
        #expect(loaded.registry == RegistryDirectory(registries: [
            RegistryEntry(id: "plant", name: "plant", disabled: true,
                          credentials: Credentials(certificates: [try #require(CertificateFingerprint(expired.sha1Fingerprint))]),
                          devices: [DeviceEntry(id: "oven-1", name: "oven-1", aliases: ["plant/oven1/"],
                                                credentials: Credentials(passwordHashes: [hash], certificates: [try #require(CertificateFingerprint(device.sha256Fingerprint))]))]),
        ], messagesPerSecond: 5))
        #expect(try loaded.registry.registries[0].devices[0].credentials.passwordHashes[0].verify("Correct-Horse-42"))
        #expect(loaded.listeners.map { "\($0.configuration) insecure=\($0.configuration.insecure)" } == ["127.0.0.1:0 insecure=false", "127.0.0.1:0 insecure=true"])
        #expect(loaded.listeners[0].tls != nil && loaded.listeners[1].tls == nil)
        let tlsContext = try #require(loaded.listeners[0].tls)
        #expect(loaded.listeners[0].configuration.security == .tls(tlsContext) && loaded.listeners[1].configuration.security == .plain)
    }

    @Test func aCertificateOnTwoEntitiesIsFoundByFingerprintAcrossFilesAndStrings() throws {
        let certificates = try TestCertificates()
        let sha256 = try certificates.fingerprintByCLI("device", digest: "sha256")
        let sha1 = try certificates.fingerprintByCLI("device", digest: "sha1")
        let file = try write(#"""
        { "registries": [{ "id": "plant", "credentials": { "certificates": [{ "file": "device.pem" }] }, "devices": [
            { "id": "oven-1", "credentials": { "certificates": [{ "fingerprint": "\#(sha256)" }] } },
            { "id": "oven-2", "credentials": { "certificates": [{ "fingerprint": "\#(sha1.lowercased())" }, { "file": "client.pem" }] } },
            { "id": "oven-3", "credentials": { "certificates": [{ "file": "\#(certificates.path("client.pem"))" }] } } ] }] }
        """#, in: certificates)
        let hex = Certificate.normalizedFingerprint(sha256)
        let client = try Certificate.load(certificates.pem("client")).sha256Fingerprint
        let rule = "a certificate may be attached to one device or registry only"
        #expect(problems(file) == [
            "$.registries[0].devices[0].credentials.certificates[0]: certificate \(hex) is already attached to registry \"plant\" at $.registries[0].credentials.certificates[0]: \(rule)",
            "$.registries[0].devices[1].credentials.certificates[0]: certificate \(Certificate.normalizedFingerprint(sha1)) is already attached to registry \"plant\" at $.registries[0].credentials.certificates[0]: \(rule)",
            "$.registries[0].devices[2].credentials.certificates[0]: certificate \(client) is already attached to device \"oven-2\" at $.registries[0].devices[1].credentials.certificates[1]: \(rule)",
        ])
    }

    @Test func unreadableOrNonPEMCertificatesAndBadHashesAreReportedWithMappingsProblems() throws {
        let certificates = try TestCertificates()
        try certificates.write("not-a-cert.pem", "hello\n")
        let weak = try PasswordHash.make(password: "Correct-Horse-42", iterations: 1000).encoded
        let file = try write(#"""
        { "broker": { "listeners": [{ "host": "127.0.0.1", "port": 0, "tls": { "certificate": "server.pem", "key": "missing.key" } }] },
          "registries": [{ "id": "plant", "devices": [
            { "id": "oven-1", "credentials": { "passwords": ["$pbkdf2-sha256$i=600000$c2FsdA$aGFzaA", "\#(weak)", "plain-Text-password-1"],
                                               "certificates": [{ "file": "missing.pem" }, { "file": "not-a-cert.pem" }] } } ] }] }
        """#, in: certificates)
        let found = problems(file)
        let device = "$.registries[0].devices[0].credentials"
        try #require(found.count == 6, "\(found)")
        #expect(found[0] == "\(device).passwords[2]: a plaintext password is not accepted: store its hash, made by `modbridge passwd`")
        #expect(found[1].hasPrefix("$.broker.listeners[0].tls: cannot read \(certificates.path("missing.key")): "))
        #expect(found[2] == "\(device).passwords[0]: malformed password hash: the salt is not 8 to 64 bytes of base64; make one with `modbridge passwd`")
        #expect(found[3] == "\(device).passwords[1]: weak hash: 1000 iterations, expected at least 100000; make a new one with `modbridge passwd`")
        #expect(found[4].hasPrefix("\(device).certificates[0]: cannot read \(certificates.path("missing.pem")): "))
        #expect(found[5].hasPrefix("\(device).certificates[1]: cannot read a certificate in PEM from \(certificates.path("not-a-cert.pem"))"))
    }

    @Test func upstreamCAAndClientCertificatesAreLoadedAndEachFailureIsAtItsKey() throws {
        let certificates = try TestCertificates()
        let devices = #"""
        "storage": "state", "buses": [{ "id": "b", "type": "simulator", "units": [1, 2] }], "profiles": ["acme-t1.json"],
          "registries": [{ "id": "plant", "devices": [
            { "id": "oven-1", "bus": "b", "unit": 1, "profile": "acme-t1", "upstream": { "certificate": "client.pem", "key": "client.key" } },
            { "id": "oven-2", "bus": "b", "unit": 2, "profile": "acme-t1", "upstream": { "certificate": "client.pem", "key": "server.key" } } ] }] }
        """#
        try certificates.write("acme-t1.json", #"{ "model": "acme-t1", "vendor": "Acme", "points": [{ "name": "pv", "table": "input", "address": 0, "type": "int16" }] }"#)
        // The CA loads; oven-2's key is not its certificate's.
        var file = try write(#"{ "broker": { "mode": "upstream", "upstream": { "url": "mqtts://server.test", "ca": "ca.pem" } }, "# + devices, in: certificates)
        var found = problems(file)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].hasPrefix("$.registries[0].devices[1].upstream.certificate: "), "\(found)")
        #expect(found[0].contains(certificates.path("server.key")), "\(found)")
        // A CA file that is not there; a shared connection's certificate that does not load.
        file = try write(#"""
        { "broker": { "mode": "both", "listeners": [{ "host": "127.0.0.1", "port": 0 }],
                      "upstream": { "url": "mqtts://server.test", "ca": "missing-ca.pem", "connection": "shared", "certificate": "missing.pem", "key": "client.key" } },
          "storage": "state", "buses": [{ "id": "b", "type": "simulator" }], "profiles": ["acme-t1.json"],
          "registries": [{ "id": "plant", "devices": [{ "id": "oven-1", "bus": "b", "unit": 1, "profile": "acme-t1" }] }] }
        """#, in: certificates)
        found = problems(file)
        try #require(found.count == 2, "\(found)")
        #expect(found[0].hasPrefix("$.broker.upstream.ca: cannot read \(certificates.path("missing-ca.pem")): "), "\(found)")
        #expect(found[1].hasPrefix("$.broker.upstream.certificate: cannot read \(certificates.path("missing.pem")): "), "\(found)")
        // All good: the gateway loads, with the embedded listener of mode both.
        file = try write(#"""
        { "broker": { "mode": "both", "listeners": [{ "host": "127.0.0.1", "port": 0 }],
                      "upstream": { "url": "mqtts://server.test", "ca": "ca.pem", "connection": "shared", "certificate": "client.pem", "key": "client.key" } },
          "storage": "state", "buses": [{ "id": "b", "type": "simulator" }], "profiles": ["acme-t1.json"],
          "registries": [{ "id": "plant", "devices": [{ "id": "oven-1", "bus": "b", "unit": 1, "profile": "acme-t1" }] }] }
        """#, in: certificates)
        let loaded = try RegistryLoader.load(configFile: file)
        #expect(loaded.listeners.map { "\($0.configuration)" } == ["127.0.0.1:0"])
        #expect(loaded.configuration.config.broker.upstream?.ca == certificates.path("ca.pem"))
        #expect(loaded.upstream?.url == "mqtts://server.test:8883")
        #expect(loaded.upstream?.tls != nil)
        // The queue needs a folder: without `storage`, that is the one problem.
        file = try write(#"{ "broker": { "mode": "upstream", "upstream": { "url": "mqtt://127.0.0.1" } }, "registries": [{ "id": "plant", "devices": [] }] }"#,
                         in: certificates)
        #expect(problems(file) == ["$.storage: required with an upstream broker: each connection's queue lives in this folder"])
    }

    @Test("modbridge check lists the gateway stage's problems with the others")
    func checkListsEverything() throws {
        let certificates = try TestCertificates()
        let file = try write(#"""
        { "registries": [{ "id": "plant", "devices": [
            { "id": "oven-1", "credentials": { "certificates": [{ "file": "missing.pem" }] } }, { "id": "x" } ] }] }
        """#, in: certificates)
        let result = try ModbridgeProcess.run(["check", file])
        #expect(result.status == 1)
        let lines = result.error.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "\(file): $.registries[0].devices[1].name: missing, and the id \"x\" is not a valid name (3-63 lowercase letters, digits or '-'); give a name")
        #expect(lines.dropFirst().first?.hasPrefix("\(file): $.registries[0].devices[0].credentials.certificates[0]: cannot read \(certificates.path("missing.pem"))") == true)
        #expect(lines.last == "\(file): 2 problems; nothing was started")
    }

    @Test("modbridge check on a pure IoT Core: a summary of its registries and MQTT devices")
    func checkSummarisesAPureIoTCore() throws {
        let certificates = try TestCertificates()
        let file = try write(#"""
        { "broker": { "listeners": [{ "host": "127.0.0.1", "port": 8883, "tls": { "certificate": "server.pem", "key": "server.key" } }] },
          "registries": [{ "id": "plant", "devices": [
            { "id": "oven-1", "aliases": ["plant/oven1"], "credentials": { "passwords": ["\#(Self.goodHash)"], "certificates": [{ "file": "device.pem" }] } } ] }] }
        """#, in: certificates)
        let result = try ModbridgeProcess.run(["check", file])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == """
            \(file): OK — 0 buses, 0 devices, 0 profiles loaded; 1 registry, 1 MQTT device, 1 TLS listener
              plant/oven-1: MQTT device, 1 alias, 1 password, 1 certificate

            """)
    }
}
