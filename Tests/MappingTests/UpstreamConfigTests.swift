import Glibc
import Mapping
import Testing
import TestSupport

/// `broker.mode` "upstream" and "both", `broker.upstream` and devices' `upstream` logins, loaded
/// from files as `modbridge check` loads them: values and defaults, and each bad value reported
/// at its JSON path.
@Suite struct UpstreamConfigTests {
    private static let profile = """
    { "model": "acme-t1", "vendor": "Acme",
      "points": [{ "name": "pv", "table": "input", "address": 0, "type": "int16" }] }
    """

    /// A config with a polled device `oven-1` (its extra keys `device`) and an MQTT device
    /// `sensor-7` (its extra keys `mqttDevice`), in the registry `plant1`.
    static func config(broker: String, device: String = "", mqttDevice: String = "") -> String {
        """
        { "profiles": ["acme-t1.json"], "broker": \(broker),
          "buses": [{ "id": "b", "type": "simulator", "units": [1] }],
          "registries": [{ "id": "plant1", "devices": [
            { "id": "oven-1", "bus": "b", "unit": 1, "profile": "acme-t1"\(device) },
            { "id": "sensor-7"\(mqttDevice) } ] }] }
        """
    }

    /// Writes `files` (name → text) and `config` into `folder` and loads the config.
    private func load(_ config: String, in folder: TemporaryFolder, files: [String: String] = [:]) throws(MappingError) -> LoadedConfiguration {
        for (name, text) in files.merging(["acme-t1.json": Self.profile], uniquingKeysWith: { first, _ in first }) {
            _ = writeFileBytes(Array(text.utf8), to: folder.path + "/" + name)
        }
        _ = writeFileBytes(Array(config.utf8), to: folder.path + "/modbridge.json")
        return try ConfigurationLoader.load(configFile: folder.path + "/modbridge.json")
    }

    /// The problems of a config that must be refused (none if it loads: the test then fails).
    private func problems(_ config: String, files: [String: String] = [:]) -> [MappingError.Problem] {
        let folder = TemporaryFolder()
        do {
            _ = try load(config, in: folder, files: files)
            return []
        } catch {
            return error.problems
        }
    }

    // MARK: - Values

    @Test func everyKeyIsReadWithPathsResolvedAndThePasswordFileRead() throws {
        let folder = TemporaryFolder()
        let broker = """
        { "mode": "both", "listeners": [{ "host": "127.0.0.1", "port": 0 }], "maxMessageSize": 65536,
          "upstream": { "url": "mqtts://broker.example.com:18883", "ca": "tls/ca.pem", "serverName": "mqtt.example.com",
                        "connection": "shared", "clientId": "gw-7", "username": "gateway", "passwordFile": "secret.txt",
                        "certificate": "tls/gw.pem", "key": "/etc/modbridge/gw.key", "keepAlive": "30s", "cleanSession": true,
                        "topics": { "device": "plant/{id}", "registry": "plant/registries/{id}" },
                        "queue": { "maxBytes": 1048576, "maxAge": "48h", "replayRate": 0, "sync": "250ms" },
                        "commandDedupWindow": "5m", "reconnect": { "initial": "500ms", "max": "2m" } } }
        """
        let loaded = try load(Self.config(broker: broker), in: folder, files: ["secret.txt": "Upstream-Secret-42\nnot this line\n"])
        let expected = BrokerSettings.Upstream(
            host: "broker.example.com", port: 18883, tls: true, ca: folder.path + "/tls/ca.pem", serverName: "mqtt.example.com",
            certificate: folder.path + "/tls/gw.pem", key: "/etc/modbridge/gw.key", username: "gateway", password: "Upstream-Secret-42",
            passwordFile: folder.path + "/secret.txt", clientID: "gw-7", keepAlive: .seconds(30), cleanSession: true, connection: .shared,
            deviceTopic: "plant/{id}", registryTopic: "plant/registries/{id}",
            queue: UpstreamQueueSettings(maximumBytes: 1_048_576, maximumAge: .seconds(48 * 3600), replayRate: 0, sync: .milliseconds(250)),
            commandDedupWindow: .seconds(300), reconnectInitial: .milliseconds(500), reconnectMaximum: .seconds(120), path: "$.broker.upstream")
        #expect(loaded.config.broker == .both(listeners: [.init(host: "127.0.0.1", port: 0)], maximumMessageSize: 65536, upstream: expected))
        #expect(loaded.config.broker.listeners == [.init(host: "127.0.0.1", port: 0)])
        #expect(loaded.config.broker.upstream == expected)
        #expect(loaded.config.broker.maximumMessageSize == 65536)
    }

    @Test func anUpstreamWithOnlyAnURLTakesEveryDefault() throws {
        let folder = TemporaryFolder()
        let loaded = try load(Self.config(broker: #"{ "mode": "upstream", "upstream": { "url": "mqtts://broker.example.com" } }"#), in: folder)
        let upstream = BrokerSettings.Upstream(host: "broker.example.com", port: 8883, tls: true, clientID: "modbridge-plant1")
        #expect(loaded.config.broker == .upstream(upstream, listeners: []))
        #expect(upstream.ca == nil && upstream.serverName == nil && upstream.username == nil && upstream.password == nil)
        #expect(upstream.keepAlive == .seconds(60) && !upstream.cleanSession && upstream.connection == .perDevice)
        #expect(upstream.deviceTopic == "$devices/{id}" && upstream.registryTopic == "$registries/{id}")
        #expect(upstream.queue == UpstreamQueueSettings(maximumBytes: 67_108_864, maximumAge: .seconds(604_800), replayRate: 1000, sync: .seconds(1)))
        #expect(upstream.commandDedupWindow == .seconds(600) && upstream.reconnectInitial == .seconds(1) && upstream.reconnectMaximum == .seconds(60))
        // No embedded broker in upstream mode: no listener, the default message size.
        #expect(loaded.config.broker.listeners.isEmpty)
        #expect(loaded.config.broker.maximumMessageSize == 262_144)
        #expect(!loaded.config.broker.hasEmbeddedBroker)
        // …but HTTP listeners for /metrics and /healthz, serving metrics alone by default.
        let monitored = try load(Self.config(broker: #"{ "mode": "upstream", "upstream": { "url": "mqtt://broker" }, "listeners": [{ "host": "127.0.0.1", "port": 9100, "protocol": "http" }] }"#), in: folder)
        #expect(monitored.config.broker.listeners == [.init(host: "127.0.0.1", port: 9100, http: .init(webSocket: false, console: false, metrics: true))])
        let device = try #require(loaded.devices.first?.settings)
        #expect(device.upstream == nil && device.upstreamUsername == "oven-1")
        // A plain URL: port 1883, no TLS.
        let plain = try load(Self.config(broker: #"{ "mode": "both", "upstream": { "url": "mqtt://broker" } }"#), in: folder)
        #expect(plain.config.broker.upstream == BrokerSettings.Upstream(host: "broker", port: 1883, tls: false, clientID: "modbridge-plant1"))
        #expect(plain.config.broker.listeners == [.init(host: "127.0.0.1", port: 1883)])
        // Embedded stays as it was.
        let embedded = try load(Self.config(broker: #"{ "listeners": [{ "host": "::1", "port": 0 }] }"#), in: folder)
        #expect(embedded.config.broker == .embedded(listeners: [.init(host: "::1", port: 0)], maximumMessageSize: 262_144))
        #expect(embedded.config.broker.upstream == nil)
    }

    @Test func devicesCarryTheirOwnUpstreamLogins() throws {
        let folder = TemporaryFolder()
        let text = """
        { "profiles": ["acme-t1.json"], "broker": { "mode": "upstream", "upstream": { "url": "mqtts://[2001:db8::1]" } },
          "buses": [{ "id": "b", "type": "simulator", "units": [1, 2, 3, 4] }],
          "registries": [{ "id": "plant1", "devices": [
            { "id": "oven-1", "bus": "b", "unit": 1, "profile": "acme-t1", "upstream": { "password": "Oven-1-Password!" } },
            { "id": "oven-2", "bus": "b", "unit": 2, "profile": "acme-t1", "upstream": { "username": "plant1.oven2", "passwordFile": "keys/oven-2.txt" } },
            { "id": "oven-3", "bus": "b", "unit": 3, "profile": "acme-t1", "upstream": { "certificate": "keys/oven-3.pem", "key": "keys/oven-3.key" } },
            { "id": "oven-4", "bus": "b", "unit": 4, "profile": "acme-t1" } ] }] }
        """
        mkdir(folder.path + "/keys", 0o755)
        let loaded = try load(text, in: folder, files: ["keys/oven-2.txt": "Oven-2-Password?\r\n"])
        let devices = loaded.config.registries[0].devices
        let base = "$.registries[0].devices"
        #expect(devices[0].upstream == UpstreamCredentials(password: "Oven-1-Password!", path: base + "[0].upstream"))
        #expect(devices[0].upstreamUsername == "oven-1")
        #expect(devices[1].upstream == UpstreamCredentials(username: "plant1.oven2", password: "Oven-2-Password?",
                                                           passwordFile: folder.path + "/keys/oven-2.txt", path: base + "[1].upstream"))
        #expect(devices[1].upstreamUsername == "plant1.oven2")
        #expect(devices[2].upstream == UpstreamCredentials(certificate: folder.path + "/keys/oven-3.pem", key: folder.path + "/keys/oven-3.key",
                                                           path: base + "[2].upstream"))
        #expect(devices[3].upstream == nil)
        #expect(loaded.config.broker.upstream?.host == "2001:db8::1" && loaded.config.broker.upstream?.port == 8883)
    }

    // MARK: - URLs

    /// A URL, and the host, port and TLS it gives (nil: refused at `$.broker.upstream.url`).
    struct URLCase: Sendable, CustomTestStringConvertible {
        var url: String
        var expected: (host: String, port: UInt16, tls: Bool)?
        var message: String = ""
        var testDescription: String { url }

        static let all: [URLCase] = [
            URLCase(url: "mqtt://broker", expected: ("broker", 1883, false)),
            URLCase(url: "mqtts://broker.example.com", expected: ("broker.example.com", 8883, true)),
            URLCase(url: "mqtt://10.0.0.5:1884", expected: ("10.0.0.5", 1884, false)),
            URLCase(url: "mqtts://broker:443", expected: ("broker", 443, true)),
            URLCase(url: "mqtt://[::1]", expected: ("::1", 1883, false)),
            URLCase(url: "mqtts://[2001:db8::17]:18883", expected: ("2001:db8::17", 18883, true)),
            URLCase(url: "mqtt://[fe80::1%eth0]:1883", expected: ("fe80::1%eth0", 1883, false)),
            URLCase(url: "mqtt://[::ffff:192.0.2.1]", expected: ("::ffff:192.0.2.1", 1883, false)),
            URLCase(url: "http://broker", message: "starting with mqtt:// or mqtts://"),
            URLCase(url: "ssl://broker:8883", message: "starting with mqtt:// or mqtts://"),
            URLCase(url: "broker:1883", message: "starting with mqtt:// or mqtts://"),
            URLCase(url: "mqtt://", message: "a host name"),
            URLCase(url: "mqtt://broker:0", message: "a port 1...65535"),
            URLCase(url: "mqtt://broker:65536", message: "a port 1...65535"),
            URLCase(url: "mqtt://broker:", message: "a port 1...65535"),
            URLCase(url: "mqtt://broker:88x", message: "a port 1...65535"),
            URLCase(url: "mqtt://broker:+1883", message: "a port 1...65535"),
            URLCase(url: "mqtt://::1", message: "IPv6 address in brackets"),
            URLCase(url: "mqtt://2001:db8::1:1883", message: "IPv6 address in brackets"),
            URLCase(url: "mqtt://[::1", message: "closing ']'"),
            URLCase(url: "mqtt://[::1]1883", message: "':port' or nothing"),
            URLCase(url: "mqtt://[broker]", message: "an IPv6 address between the brackets"),
            URLCase(url: "mqtt://[]:1883", message: "an IPv6 address between the brackets"),
            URLCase(url: "mqtt://user:secret@broker", message: "no path, query or user name"),
            URLCase(url: "mqtt://broker/path", message: "no path, query or user name"),
            URLCase(url: "mqtts://bro ker", message: "no path, query or user name"),
            URLCase(url: "mqtt://bröker", message: "a host name"),
        ]
    }

    @Test("broker.upstream.url", arguments: URLCase.all)
    func url(_ url: URLCase) throws {
        let text = Self.config(broker: #"{ "mode": "upstream", "upstream": { "url": "\#(url.url)" } }"#)
        if let (host, port, tls) = url.expected {
            let loaded = try load(text, in: TemporaryFolder())
            let upstream = try #require(loaded.config.broker.upstream)
            #expect(upstream.host == host && upstream.port == port && upstream.tls == tls)
        } else {
            let found = problems(text)
            #expect(found.count == 1, "\(found)")
            #expect(found.first?.path == "$.broker.upstream.url")
            #expect(found.first?.message.hasPrefix("found \"\(url.url)\", expected ") == true, "\(found)")
            #expect(found.first?.message.contains(url.message) == true, "\(found)")
        }
    }

    // MARK: - Problems

    /// A config with one thing wrong, where the problem must be reported and a piece of its message.
    struct BadValue: Sendable, CustomTestStringConvertible {
        var name: String
        var broker: String
        var device = ""
        var mqttDevice = ""
        var path: String
        var message: String
        var testDescription: String { name }

        /// Upstream mode whose `broker.upstream` holds `keys` (a JSON members text) beside `url`.
        static func upstream(_ keys: String, url: String = "mqtts://broker", mode: String = "upstream") -> String {
            #"{ "mode": "\#(mode)", "upstream": { "url": "\#(url)"\#(keys.isEmpty ? "" : ", " + keys) } }"#
        }

        static let shared = #""connection": "shared""#
        static let device = "$.registries[0].devices[0].upstream"

        static let all: [BadValue] = [
            BadValue(name: "mode cloud", broker: #"{ "mode": "cloud" }"#, path: "$.broker.mode", message: "one of embedded, upstream, both"),
            BadValue(name: "mode upstream without upstream", broker: #"{ "mode": "upstream" }"#, path: "$.broker.upstream", message: "missing"),
            BadValue(name: "mode both without upstream", broker: #"{ "mode": "both" }"#, path: "$.broker.upstream", message: "missing"),
            BadValue(name: "upstream in embedded mode", broker: #"{ "upstream": { "url": "mqtt://broker" } }"#,
                     path: "$.broker.upstream", message: "applies to broker modes \"upstream\" and \"both\" only"),
            BadValue(name: "an MQTT listener in upstream mode", broker: #"{ "mode": "upstream", "listeners": [{ "host": "::1", "port": 0 }], "upstream": { "url": "mqtt://b" } }"#,
                     path: "$.broker.listeners[0].protocol", message: "broker mode \"upstream\" opens \"protocol\": \"http\" listeners only, for /metrics and /healthz"),
            BadValue(name: "the console in upstream mode",
                     broker: #"{ "mode": "upstream", "listeners": [{ "host": "::1", "port": 0, "protocol": "http", "serve": ["metrics", "console"] }], "upstream": { "url": "mqtt://b" } }"#,
                     path: "$.broker.listeners[0].serve[1]", message: "\"console\" needs the embedded broker's topics"),
            BadValue(name: "WebSocket in upstream mode",
                     broker: #"{ "mode": "upstream", "listeners": [{ "host": "::1", "port": 0, "protocol": "http", "serve": ["websocket"] }], "upstream": { "url": "mqtt://b" } }"#,
                     path: "$.broker.listeners[0].serve[0]", message: "in mode \"upstream\" an HTTP listener serves \"metrics\" only"),
            BadValue(name: "anonymousAs in upstream mode",
                     broker: #"{ "mode": "upstream", "listeners": [{ "host": "::1", "port": 0, "protocol": "http", "anonymousAs": "plant1" }], "upstream": { "url": "mqtt://b" } }"#,
                     path: "$.broker.listeners[0].anonymousAs", message: "applies to the embedded broker's listeners only"),
            BadValue(name: "maxMessageSize in upstream mode", broker: #"{ "mode": "upstream", "maxMessageSize": 4096, "upstream": { "url": "mqtt://b" } }"#,
                     path: "$.broker.maxMessageSize", message: "upstream mode runs no broker of its own"),
            BadValue(name: "messagesPerSecond in upstream mode", broker: #"{ "mode": "upstream", "messagesPerSecond": 10, "upstream": { "url": "mqtt://b" } }"#,
                     path: "$.broker.messagesPerSecond", message: "upstream mode runs no broker of its own"),
            BadValue(name: "no url", broker: #"{ "mode": "upstream", "upstream": { "keepAlive": "10s" } }"#,
                     path: "$.broker.upstream.url", message: "missing"),
            BadValue(name: "a misspelt key", broker: upstream(#""keepalive": "10s""#), path: "$.broker.upstream.keepalive", message: "did you mean 'keepAlive'?"),
            BadValue(name: "ca with mqtt://", broker: upstream(#""ca": "ca.pem""#, url: "mqtt://broker"),
                     path: "$.broker.upstream.ca", message: "applies to mqtts:// only"),
            BadValue(name: "serverName with mqtt://", broker: upstream(#""serverName": "broker.example.com""#, url: "mqtt://broker"),
                     path: "$.broker.upstream.serverName", message: "applies to mqtts:// only"),
            BadValue(name: "empty ca", broker: upstream(#""ca": """#), path: "$.broker.upstream.ca", message: "the path of the CA certificates"),
            BadValue(name: "certificate with mqtt://", broker: upstream(shared + #", "certificate": "c.pem", "key": "c.key""#, url: "mqtt://b"),
                     path: "$.broker.upstream.certificate", message: "applies to mqtts:// only"),
            BadValue(name: "certificate without key", broker: upstream(shared + #", "certificate": "c.pem""#),
                     path: "$.broker.upstream.key", message: "certificate and key go together"),
            BadValue(name: "key without certificate", broker: upstream(shared + #", "key": "c.key""#),
                     path: "$.broker.upstream.certificate", message: "certificate and key go together"),
            BadValue(name: "password and passwordFile", broker: upstream(shared + #", "username": "gw", "password": "Pass-Word-1234", "passwordFile": "p.txt""#),
                     path: "$.broker.upstream.passwordFile", message: "either password or passwordFile, not both"),
            BadValue(name: "password without username", broker: upstream(shared + #", "password": "Pass-Word-1234""#),
                     path: "$.broker.upstream.password", message: "needs a username"),
            BadValue(name: "empty username", broker: upstream(shared + #", "username": """#),
                     path: "$.broker.upstream.username", message: "a user name (not empty)"),
            BadValue(name: "clientId with per-device", broker: upstream(#""clientId": "gw""#),
                     path: "$.broker.upstream.clientId", message: "used only with connection \"shared\""),
            BadValue(name: "username with per-device", broker: upstream(#""connection": "per-device", "username": "gw""#),
                     path: "$.broker.upstream.username", message: "used only with connection \"shared\""),
            BadValue(name: "connection Shared", broker: upstream(#""connection": "Shared""#),
                     path: "$.broker.upstream.connection", message: "one of per-device, shared"),
            BadValue(name: "keepAlive past 65535 s", broker: upstream(#""keepAlive": "19h""#),
                     path: "$.broker.upstream.keepAlive", message: "a duration 0ms...65535s"),
            BadValue(name: "cleanSession a string", broker: upstream(#""cleanSession": "yes""#),
                     path: "$.broker.upstream.cleanSession", message: "true or false"),
            BadValue(name: "device topic with a wildcard", broker: upstream(#""topics": { "device": "plant/+/{id}" }"#),
                     path: "$.broker.upstream.topics.device", message: "without the wildcards"),
            BadValue(name: "registry topic with #", broker: upstream(#""topics": { "registry": "plant/{id}/#" }"#),
                     path: "$.broker.upstream.topics.registry", message: "without the wildcards"),
            BadValue(name: "device topic without {id}", broker: upstream(#""topics": { "device": "plant/devices" }"#),
                     path: "$.broker.upstream.topics.device", message: "{id} exactly once, as a whole level"),
            BadValue(name: "device topic with {id} inside a level", broker: upstream(#""topics": { "device": "plant/dev-{id}" }"#),
                     path: "$.broker.upstream.topics.device", message: "{id} exactly once, as a whole level"),
            BadValue(name: "device topic with {id} twice", broker: upstream(#""topics": { "device": "{id}/plant/{id}" }"#),
                     path: "$.broker.upstream.topics.device", message: "{id} exactly once, as a whole level"),
            BadValue(name: "device topic with a control character", broker: upstream(#""topics": { "device": "plant\u0001/{id}" }"#),
                     path: "$.broker.upstream.topics.device", message: "without control characters"),
            BadValue(name: "device topic a number", broker: upstream(#""topics": { "device": 7 }"#),
                     path: "$.broker.upstream.topics.device", message: "a topic template"),
            BadValue(name: "registry topic the same as the device topic", broker: upstream(#""topics": { "device": "plant/{id}", "registry": "plant/{id}" }"#),
                     path: "$.broker.upstream.topics.registry", message: "must differ"),
            BadValue(name: "queue.maxBytes below 64 KiB", broker: upstream(#""queue": { "maxBytes": 65535 }"#),
                     path: "$.broker.upstream.queue.maxBytes", message: "65536...1099511627776"),
            BadValue(name: "queue.maxBytes a string", broker: upstream(#""queue": { "maxBytes": "64MB" }"#),
                     path: "$.broker.upstream.queue.maxBytes", message: "65536...1099511627776"),
            BadValue(name: "queue.maxAge under a minute", broker: upstream(#""queue": { "maxAge": "30s" }"#),
                     path: "$.broker.upstream.queue.maxAge", message: "1m...240h"),
            BadValue(name: "queue.replayRate negative", broker: upstream(#""queue": { "replayRate": -1 }"#),
                     path: "$.broker.upstream.queue.replayRate", message: "0...1000000 (0: no cap)"),
            BadValue(name: "queue.sync under 10 ms", broker: upstream(#""queue": { "sync": "5ms" }"#),
                     path: "$.broker.upstream.queue.sync", message: "10ms...1m"),
            BadValue(name: "queue.sync over 60 s", broker: upstream(#""queue": { "sync": "61s" }"#),
                     path: "$.broker.upstream.queue.sync", message: "10ms...1m"),
            BadValue(name: "queue with an unknown key", broker: upstream(#""queue": { "maxMessages": 10 }"#),
                     path: "$.broker.upstream.queue.maxMessages", message: "unknown key"),
            BadValue(name: "commandDedupWindow over a day", broker: upstream(#""commandDedupWindow": "25h""#),
                     path: "$.broker.upstream.commandDedupWindow", message: "0ms...24h"),
            BadValue(name: "reconnect initial > max", broker: upstream(#""reconnect": { "initial": "2m", "max": "1m" }"#),
                     path: "$.broker.upstream.reconnect.initial", message: "found 2m, expected at most reconnect.max (1m)"),
            BadValue(name: "reconnect initial > the default max", broker: upstream(#""reconnect": { "initial": "2m" }"#),
                     path: "$.broker.upstream.reconnect.initial", message: "at most reconnect.max (1m)"),
            BadValue(name: "reconnect max under 10 ms", broker: upstream(#""reconnect": { "max": 5 }"#),
                     path: "$.broker.upstream.reconnect.max", message: "10ms...24h"),
            BadValue(name: "device credentials with a shared connection", broker: upstream(shared),
                     device: #", "upstream": { "password": "Oven-1-Password!" }"#, path: device, message: "used only with connection \"per-device\""),
            BadValue(name: "device credentials in embedded mode", broker: #"{ "listeners": [{ "host": "::1", "port": 0 }] }"#,
                     device: #", "upstream": { "username": "oven" }"#, path: device, message: "applies to broker modes \"upstream\" and \"both\" only"),
            BadValue(name: "device credentials on an MQTT device", broker: upstream(""), mqttDevice: #", "upstream": { "username": "s7" }"#,
                     path: "$.registries[0].devices[1].upstream", message: "applies to a device the gateway polls"),
            BadValue(name: "device certificate with mqtt://", broker: upstream("", url: "mqtt://broker"),
                     device: #", "upstream": { "certificate": "o.pem", "key": "o.key" }"#, path: device + ".certificate", message: "applies to mqtts:// only"),
            BadValue(name: "device certificate without key", broker: upstream(""),
                     device: #", "upstream": { "certificate": "o.pem" }"#, path: device + ".key", message: "certificate and key go together"),
            BadValue(name: "device password and passwordFile", broker: upstream(""),
                     device: #", "upstream": { "password": "Oven-1-Password!", "passwordFile": "o.txt" }"#, path: device + ".passwordFile",
                     message: "either password or passwordFile, not both"),
            BadValue(name: "device upstream with an unknown key", broker: upstream(""),
                     device: #", "upstream": { "user": "oven" }"#, path: device + ".user", message: "unknown key"),
            BadValue(name: "device upstream not an object", broker: upstream(""),
                     device: #", "upstream": "oven""#, path: device, message: "expected an object"),
        ]
    }

    @Test("A bad upstream value is one problem, at its path", arguments: BadValue.all)
    func badValue(_ bad: BadValue) {
        // Files a bad value names exist, so the problem is the value's alone.
        let found = problems(Self.config(broker: bad.broker, device: bad.device, mqttDevice: bad.mqttDevice), files: ["p.txt": "Pass-Word-1234\n", "o.txt": "Oven-1-Password!\n"])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == bad.path, "\(found)")
        #expect(found.first?.message.contains(bad.message) == true, "\(found)")
    }

    @Test func aPasswordFileThatCannotBeReadIsNamedAtItsKey() {
        var text = Self.config(broker: BadValue.upstream(#""connection": "shared", "username": "gw", "passwordFile": "missing.txt""#))
        var found = problems(text)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == "$.broker.upstream.passwordFile")
        #expect(found.first?.message.hasSuffix("/missing.txt: cannot read the file: no such file") == true, "\(found)")
        // An empty first line is no password; the file's other lines are never read as one.
        text = Self.config(broker: BadValue.upstream(""), device: #", "upstream": { "passwordFile": "keys.txt" }"#)
        found = problems(text, files: ["keys.txt": "\nOven-1-Password!\n"])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == "$.registries[0].devices[0].upstream.passwordFile")
        #expect(found.first?.message.hasSuffix("/keys.txt: the first line is empty, expected the password") == true, "\(found)")
    }

    @Test func everyProblemIsReportedInOneRun() {
        let broker = """
        { "mode": "both", "upstream": { "url": "mqtt://broker:99999", "connection": "shared", "password": "x",
          "topics": { "device": "plant/#" }, "queue": { "maxBytes": 1 }, "reconnect": { "initial": "5m", "max": "1m" } } }
        """
        let found = problems(Self.config(broker: broker, device: #", "upstream": { "username": "oven" }"#))
        #expect(found.map(\.path) == ["$.broker.upstream.url", "$.broker.upstream.topics.device", "$.broker.upstream.queue.maxBytes",
                                      "$.broker.upstream.reconnect.initial", "$.broker.upstream.password", "$.registries[0].devices[0].upstream"],
                "\(found)")
        #expect(found.allSatisfy { $0.file?.hasSuffix("/modbridge.json") == true })
    }
}
