import Foundation
import Glibc
import TestSupport
import Testing

/// docs/iot-core.md end to end: `modbridge run` serving a registry over TLS (IoTCoreGateway),
/// driven by clients no one here wrote (`mosquitto_pub`/`mosquitto_sub` with `--cafile`,
/// `--cert`/`--key` and `-u/-P`; paho-mqtt). Every assertion is about what those clients
/// received or how their CONNECT was answered.
@Suite("IoT Core over TLS: modbridge run with mosquitto and paho clients", .serialized)
struct IoTCoreTLSTests {
    typealias Login = IoTCoreGateway.Login

    // MARK: - 1. The contract's table

    @Test("Each entity's allowed publishes reach the other side; denied ones disconnect and reach no one")
    func publishRows() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        let registry = try gateway.subscribe(.plant, ["$devices/#", "$registries/plant/events", "$registries/plant/state"])
        #expect(registry.granted() == [1, 1, 1])
        let device = try gateway.subscribe(.certificate("device"), ["$devices/sensor-1/commands/#", "$devices/sensor-1/config",
                                                                     "$registries/plant/commands", "$registries/plant/config"])
        #expect(device.granted() == [1, 1, 1, 1])
        // The other registry's `$devices/#` narrows to its own devices.
        let foreignRegistry = try gateway.subscribe(.other, ["$devices/#"])
        #expect(foreignRegistry.granted() == [1])

        // Device → registry: events, state, subtopics, the registry's events and state.
        for (topic, message) in [("$devices/sensor-1/events", "e1"), ("$devices/sensor-1/state", "s1"),
                                 ("$devices/sensor-1/events/line/2", "e2"), ("$registries/plant/events", "re"),
                                 ("$registries/plant/state", "rs")] {
            #expect(try gateway.publish(.certificate("device"), topic, message).succeeded, "sensor-1 publishing \(topic)")
            #expect(registry.next() == "0 \(topic) \(message)")
        }
        // Registry → device: commands and config, the device's and the registry's.
        for (topic, message) in [("$devices/sensor-1/commands", "c1"), ("$devices/sensor-1/config", "g1"),
                                 ("$devices/sensor-1/commands/valve", "c2"), ("$registries/plant/commands", "rc"),
                                 ("$registries/plant/config", "rg")] {
            #expect(try gateway.publish(.plant, topic, message).succeeded, "plant publishing \(topic)")
            #expect(device.next() == "0 \(topic) \(message)")
        }

        // Denied: the connection is closed (no PUBACK: mosquitto_pub fails) and no one receives it.
        let denied: [(Login, String)] = [
            (.sensor1, "$devices/sensor-2/events"),       // another device's events
            (.sensor1, "$devices/sensor-1/commands"),     // a device publishing its commands
            (.sensor1, "$registries/other/events"),       // another registry
            (.plant, "$devices/sensor-1/events"),         // a registry publishing events
            (.plant, "$registries/plant/events"),
            (.plant, "$devices/foreign/commands"),        // across registries
            (.other, "$devices/sensor-1/commands"),
            (.foreign, "$devices/sensor-1/events"),
            (.foreign, "$registries/plant/commands"),
        ]
        for (login, topic) in denied {
            let outcome = try gateway.publish(login, topic, "denied")
            #expect(!outcome.succeeded, "\(login.username ?? "-") publishing \(topic) was not refused")
        }
        // Sentinels: the first messages after the denied ones are these.
        #expect(try gateway.publish(.sensor1, "$devices/sensor-1/events", "end").succeeded)
        #expect(registry.next() == "0 $devices/sensor-1/events end")
        #expect(try gateway.publish(.plant, "$devices/sensor-1/commands", "end").succeeded)
        #expect(device.next() == "0 $devices/sensor-1/commands end")
        #expect(try gateway.publish(.foreign, "$devices/foreign/events", "end").succeeded)
        #expect(foreignRegistry.next() == "0 $devices/foreign/events end")
    }

    @Test("Denied subscriptions get 0x80 in SUBACK, the rest are granted")
    func subscribeRows() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        let rows: [(Login, [String], [Int])] = [
            (.sensor1, ["$devices/sensor-2/commands"], [128]),                     // another device's commands
            (.sensor1, ["$devices/sensor-2/events", "$devices/sensor-1/config"], [128, 1]),
            (.sensor1, ["$devices/sensor-1/events"], [128]),                       // its own events: the registry's
            (.sensor1, ["$monitoring/sensor-2/json", "$monitoring/foreign/json"], [1, 128]),
            (.sensor1, ["$registries/plant/events", "$registries/plant/commands"], [128, 1]),
            (.plant, ["$devices/sensor-1/commands", "$devices/sensor-1/state"], [128, 1]),
            (.plant, ["$devices/foreign/events", "$registries/other/events"], [128, 128]),
            (.foreign, ["$devices/sensor-1/commands", "$monitoring/sensor-1/json", "$devices/foreign/commands"], [128, 128, 1]),
        ]
        for (login, filters, expected) in rows {
            let subscriber = try gateway.subscribe(login, filters)
            #expect(subscriber.granted() == expected, "\(login.username ?? "-") subscribing \(filters)")
            let error = subscriber.stop()
            if expected.allSatisfy({ $0 == 128 }) {
                #expect(error.contains("All subscription requests were denied"), "\(error)")
            }
        }
        // A denied filter does not leak: sensor-2's commands never reach sensor-1.
        let device = try gateway.subscribe(.sensor1, ["$devices/sensor-2/commands", "$devices/sensor-1/commands"])
        #expect(device.granted() == [128, 1])
        #expect(try gateway.publish(.plant, "$devices/sensor-2/commands", "not yours").succeeded)
        #expect(try gateway.publish(.plant, "$devices/sensor-1/commands", "yours").succeeded)
        #expect(device.next() == "0 $devices/sensor-1/commands yours")
    }

    // MARK: - 2. Login

    @Test("Login matrix over TLS: password, certificate, both (password wins), refusals with 4 and 5")
    func loginMatrix() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        let good = IoTCoreGateway.sensorPassword
        let bad = "Wrong-password-99"
        enum Expected { case accepted, badPassword, notAuthorised }
        let rows: [(String, Login, IoTCoreGateway.Listener, Expected)] = [
            ("password only", .password("sensor-1", good), .tls, .accepted),
            ("certificate only (fingerprint)", .certificate("device"), .tls, .accepted),
            ("certificate with its own username", .certificate("device", username: "sensor-1"), .tls, .accepted),
            ("certificate with another username", .certificate("device", username: "sensor-3"), .tls, .notAuthorised),
            ("CA-signed certificate file", .certificate("client"), .tls, .accepted),
            ("good password, good certificate", Login(username: "sensor-1", password: good, certificate: "device"), .tls, .accepted),
            ("good password, unregistered certificate", Login(username: "sensor-1", password: good, certificate: "stranger"), .tls, .accepted),
            ("good password, expired certificate", Login(username: "sensor-1", password: good, certificate: "device-expired"), .tls, .accepted),
            ("bad password, good certificate", Login(username: "sensor-1", password: bad, certificate: "device"), .tls, .badPassword),
            ("bad password, unregistered certificate", Login(username: "sensor-1", password: bad, certificate: "stranger"), .tls, .badPassword),
            ("expired certificate", .certificate("device-expired"), .tls, .notAuthorised),
            ("unregistered certificate", .certificate("stranger"), .tls, .notAuthorised),
            ("wrong password", .password("sensor-1", bad), .tls, .badPassword),
            ("unknown username", .password("nobody", bad), .tls, .badPassword),
            ("no credentials", Login(), .tls, .notAuthorised),
            ("device of a disabled registry", .password("legacy", IoTCoreGateway.legacyPassword), .tls, .notAuthorised),
            ("password over a plain listener", .password("sensor-1", good), .plain, .notAuthorised),
            ("password over the insecure listener", .password("sensor-1", good), .insecure, .accepted),
            ("registry by password", .plant, .tls, .accepted),
        ]
        for (name, login, listener, expected) in rows {
            // A registry has no `$me/device`: it sends its registry's commands.
            let topic = login.username == "plant" ? "$me/registry/commands" : "$me/device/events"
            let outcome = try gateway.publish(login, topic, name, on: listener)
            switch expected {
            case .accepted: #expect(outcome.succeeded, "\(name): \(outcome.error)")
            case .badPassword: #expect(outcome.badPassword, "\(name): \(outcome.exitCode.map(String.init) ?? "killed") \(outcome.error)")
            case .notAuthorised: #expect(outcome.notAuthorised, "\(name): \(outcome.exitCode.map(String.init) ?? "killed") \(outcome.error)")
            }
        }
        // The accepted ones were sensor-1's events, as the registry sees them.
        let registry = try gateway.subscribe(.plant, ["$devices/sensor-1/events"])
        #expect(registry.granted() == [1])
        let login = Login(username: "sensor-1", password: good, certificate: "stranger")
        #expect(try gateway.publish(login, "$me/device/events", "password wins").succeeded)
        #expect(registry.next() == "0 $devices/sensor-1/events password wins")
    }

    @Test("An expired and an unregistered certificate and a password on the plain listener are each refused and counted, while a TLS subscriber keeps its messages")
    func badLoginsAreCounted() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        let registry = try gateway.subscribe(.plant, ["$devices/sensor-1/events"])
        #expect(registry.granted() == [1])
        let bad: [(String, Login, IoTCoreGateway.Listener)] = [
            ("expired", .certificate("device-expired"), .tls),
            ("unregistered", .certificate("stranger"), .tls),
            ("plain", .password("sensor-1", IoTCoreGateway.sensorPassword), .plain),
        ]
        for (name, login, listener) in bad {
            #expect(try gateway.publish(login, "$me/device/events", name, on: listener).notAuthorised, "\(name)")
            #expect(try gateway.publish(.certificate("device"), "$devices/sensor-1/events", "after \(name)").succeeded)
            #expect(registry.next() == "0 $devices/sensor-1/events after \(name)")
        }
        gateway.stop()
        let stopLine = gateway.log.split(separator: "\n").first { $0.contains("event=gateway_stopped") }.map(String.init) ?? ""
        #expect(stopLine.contains("logins_refused=3"), "\(stopLine)")
        let refusals = gateway.log.split(separator: "\n").filter { $0.contains("event=client_refused") }
        #expect(refusals.count == 3 && refusals.allSatisfy { $0.contains("reason=") }, "\(refusals)")
    }

    // MARK: - 3. paho-mqtt, aliases and $me

    @Test("paho-mqtt over TLS: subscriptions through an alias and $me receive under the names subscribed")
    func pahoAliasesAndMe() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        let tls = ["--port", String(gateway.tlsPort), "--cafile", gateway.certificates.path("ca.pem")]
        let registry = try BrokerInteropTests.Peer("python3", [BrokerInteropTests.pahoScript, "sub"] + tls
            + ["--username", "plant", "--password", IoTCoreGateway.plantPassword, "--topic", "plant/sensor1/#", "--qos", "1", "--count", "2", "--timeout", "60"],
            inheritStandardError: true)
        defer { registry.stop() }
        #expect(registry.subscribed() == "subscribed 1")
        let device = try BrokerInteropTests.Peer("python3", [BrokerInteropTests.pahoScript, "sub"] + tls
            + ["--username", "sensor-1", "--password", IoTCoreGateway.sensorPassword, "--topic", "$me/device/commands/#", "--qos", "1", "--count", "2", "--timeout", "60"],
            inheritStandardError: true)
        defer { device.stop() }
        #expect(device.subscribed() == "subscribed 1")
        let plainRegistry = try gateway.subscribe(.plant, ["$devices/sensor-1/events/#"])
        #expect(plainRegistry.granted() == [1])

        // The device publishes through $me (paho), and through its alias (mosquitto_pub).
        let publisher = try BrokerInteropTests.Peer("python3", [BrokerInteropTests.pahoScript, "pub"] + tls
            + ["--username", "sensor-1", "--password", IoTCoreGateway.sensorPassword, "--topic", "$me/device/events", "--qos", "1", "--message", "via me"],
            inheritStandardError: true)
        #expect(publisher.waitFor { $0 == "published" } != nil)
        #expect(publisher.finish() == 0)
        #expect(plainRegistry.next() == "0 $devices/sensor-1/events via me")
        #expect(try gateway.publish(.sensor1, "plant/sensor1/events/temp", "via alias").succeeded)
        #expect(plainRegistry.next() == "0 $devices/sensor-1/events/temp via alias")
        #expect(registry.messages(2) == ["msg plant/sensor1/events 1 0 \(hex("via me"))",
                                         "msg plant/sensor1/events/temp 1 0 \(hex("via alias"))"])

        // The registry sends commands by the full name and through the alias.
        #expect(try gateway.publish(.plant, "$devices/sensor-1/commands", "by name").succeeded)
        #expect(try gateway.publish(.plant, "plant/sensor1/commands/valve", "by alias").succeeded)
        #expect(device.messages(2) == ["msg $me/device/commands 1 0 \(hex("by name"))",
                                       "msg $me/device/commands/valve 1 0 \(hex("by alias"))"])
        #expect(registry.finish() == 0)
        #expect(device.finish() == 0)
    }

    private func hex(_ text: String) -> String { text.utf8.map { String(format: "%02x", $0) }.joined() }

    // MARK: - 4. Permanent topics

    @Test("A config published without retain is replayed with the retain bit after a restart, to the exact topic only")
    func permanentTopicsAfterRestart() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        #expect(try gateway.publish(.plant, "$devices/sensor-1/config", "setpoint=21").succeeded)
        try gateway.restart()

        let exact = try gateway.subscribe(.certificate("device"), ["$devices/sensor-1/config"])
        #expect(exact.granted() == [1])
        #expect(exact.next() == "1 $devices/sensor-1/config setpoint=21")
        let wildcard = try gateway.subscribe(.sensor1, ["$devices/sensor-1/#"])
        #expect(wildcard.granted() == [1])
        // The wildcard's first message is a live one, not the kept config.
        #expect(try gateway.publish(.plant, "$devices/sensor-1/commands", "live").succeeded)
        #expect(wildcard.next() == "0 $devices/sensor-1/commands live")
    }

    // MARK: - 5. Monitoring

    @Test("$monitoring/sensor-1/json reaches the registry when sensor-1 connects and disconnects")
    func monitoringDocument() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        let registry = try gateway.subscribe(.plant, ["$monitoring/sensor-1/json"])
        #expect(registry.granted() == [1])
        let device = try gateway.subscribe(.certificate("device"), ["$devices/sensor-1/commands"])
        #expect(device.granted() == [1])

        let online = Self.document(registry.next(), topic: "$monitoring/sensor-1/json")
        #expect(online?["device_id"] as? String == "sensor-1")
        #expect(online?["registry_id"] as? String == "plant")
        #expect(online?["online"] as? Bool == true)
        let authTime = online?["last_auth_time"] as? String
        #expect(authTime.map(Self.isRFC3339UTC) == true, "last_auth_time \(authTime ?? "missing")")
        #expect(online?["last_auth_ip"] as? String == "127.0.0.1")

        _ = device.stop()
        // Documents within a second are merged: the next one may still say the subscription.
        var offline: [String: Any]?
        for _ in 0..<3 {
            guard let document = Self.document(registry.next(), topic: "$monitoring/sensor-1/json") else { break }
            if document["online"] as? Bool == false { offline = document; break }
        }
        #expect(offline?["last_auth_time"] as? String == authTime)
        #expect((offline?["last_online_time"] as? String).map(Self.isRFC3339UTC) == true)
    }

    /// The JSON object of a `<retain> <topic> <payload>` line on `topic`.
    static func document(_ line: String?, topic: String) -> [String: Any]? {
        guard let line, line.hasPrefix("0 \(topic) ") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(topic.count + 3).utf8))) as? [String: Any]
    }

    /// `2026-12-01T08:00:00Z` or with a fraction of a second, UTC.
    static func isRFC3339UTC(_ text: String) -> Bool {
        text.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"#, options: .regularExpression) != nil
    }

    // MARK: - 6. Bad input

    @Test("200 wrong passwords in a burst are each refused with 4 while a TLS subscriber keeps receiving; refusals are logged rate-limited")
    func wrongPasswordBurst() throws {
        let gateway = try IoTCoreGateway()
        defer { gateway.stop() }
        let registry = try gateway.subscribe(.plant, ["$devices/sensor-1/events"])
        #expect(registry.granted() == [1])

        let started = ContinuousClock.now
        let burst = try BrokerInteropTests.Peer("python3", [BrokerInteropTests.pahoScript, "burst", "--port", String(gateway.tlsPort),
            "--cafile", gateway.certificates.path("ca.pem"), "--username", "sensor-1", "--password", "Wrong-password-99",
            "--count", "200", "--timeout", "60"], inheritStandardError: true)
        defer { burst.stop() }
        // Published while the burst's hashes are being checked (by certificate: no hash of its own).
        for index in 0..<3 {
            #expect(try gateway.publish(.certificate("device"), "$devices/sensor-1/events", "during \(index)").succeeded)
            #expect(registry.next() == "0 $devices/sensor-1/events during \(index)")
        }
        // paho reports CONNACK 4 as reason code 134 (bad user name or password).
        #expect(burst.waitFor(timeout: .seconds(60)) { $0.hasPrefix("burst ") } == "burst refused-134:200")
        let seconds = Int(ContinuousClock.now.duration(to: started).components.seconds.magnitude) + 1
        #expect(try gateway.publish(.certificate("device"), "$devices/sensor-1/events", "after").succeeded)
        #expect(registry.next() == "0 $devices/sensor-1/events after")

        // Every refusal is either a `client_refused` line (at most 20 a second) or counted as not
        // logged; the stop line has both counts.
        gateway.stop()
        let lines = gateway.log.split(separator: "\n")
        let refusals = lines.filter { $0.contains("event=client_refused") }
        #expect(refusals.allSatisfy { $0.contains("entity=sensor-1") })
        #expect(!refusals.isEmpty && refusals.count <= 20 * (seconds + 1), "\(refusals.count) lines in about \(seconds) s")
        let stopLine = lines.first { $0.contains("event=gateway_stopped") }.map(String.init) ?? ""
        #expect(stopLine.contains("logins_refused=200"), "\(stopLine)")
        #expect(stopLine.contains("refusals_not_logged=\(200 - refusals.count)"), "\(refusals.count) logged; \(stopLine)")
    }
}
