import Broker
import Foundation
import GatewayCore
import Glibc
import MQTT
import Testing
import TestSupport

/// Several listeners through the command line (`modbridge broker --listen`) and the gateway
/// config (`broker.listeners`).
@Suite("modbridge: broker listeners from the command line and the config")
struct BrokerListenersCommandTests {
    @Test("--listen is repeatable, takes [IPv6]:PORT, and does not mix with --host/--port")
    func listenOptionParses() throws {
        guard case let .command(parsed) = try Modbridge.parse(["broker", "--listen", "127.0.0.1:1883", "--listen", "[::1]:0"]),
              let broker = parsed as? BrokerCommand else {
            Issue.record("did not parse to the broker command")
            return
        }
        #expect(broker.configuration.listeners == [ListenerConfiguration(host: "127.0.0.1", port: 1883),
                                                   ListenerConfiguration(host: "::1", port: 0)])
        for (arguments, argument) in [(["broker", "--listen", "127.0.0.1:0", "--port", "1"], "--port"),
                                      (["broker", "--host", "::1", "--listen", "127.0.0.1:0"], "--host"),
                                      (["broker", "--listen", "::1:1883"], "--listen"),
                                      (["broker", "--listen", "127.0.0.1:70000"], "--listen")] {
            do {
                _ = try Modbridge.parse(arguments)
                Issue.record("\(arguments) was accepted")
            } catch {
                #expect(error.argument == argument, "\(arguments)")
            }
        }
    }

    @Test("modbridge broker --listen 127.0.0.1:0 --listen [::1]:0 logs each listener's port and serves clients on both")
    func brokerProcessWithTwoListeners() async throws {
        let folder = TemporaryFolder()
        let log = folder.path + "/broker.log"
        let process = try ChildProcess(ModbridgeProcess.executable, ["broker", "--listen", "127.0.0.1:0", "--listen", "[::1]:0"],
                                       standardErrorFile: log)
        defer { process.stop() }
        var listening: [(host: String, port: UInt16)] = []
        _ = await eventually {
            let lines = String(decoding: readFileBytes(log) ?? [], as: UTF8.self).split(separator: "\n")
            listening = lines.filter { $0.contains("event=broker_listening") }.compactMap { line in
                let fields = Dictionary(line.split(separator: " ").compactMap { field -> (String, String)? in
                    let parts = field.split(separator: "=", maxSplits: 1)
                    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                }, uniquingKeysWith: { first, _ in first })
                guard let host = fields["host"], let port = fields["port"].flatMap({ UInt16($0) }) else { return nil }
                return (host, port)
            }
            return listening.count == 2
        }
        #expect(listening.map(\.host) == ["127.0.0.1", "::1"])
        #expect(listening.allSatisfy { $0.port != 0 })
        guard listening.count == 2 else { return }

        let subscriber = try RawMQTTClient(host: "::1", port: listening[1].port)
        _ = try subscriber.connect(Connect(clientIdentifier: "sub"))
        _ = try subscriber.subscribe([Subscription(filter: "x", qos: .atMostOnce)])
        let publisher = try RawMQTTClient(host: "127.0.0.1", port: listening[0].port)
        _ = try publisher.connect(Connect(clientIdentifier: "pub"))
        try publisher.send(.publish(Publish(topic: "x", payload: [42])))
        #expect(try subscriber.nextPublish().payload == [42])
    }

    @Test("The gateway listens on every entry of broker.listeners (it refused more than one)")
    func gatewayWithTwoListeners() throws {
        let gateway = try GatewayFixture(start: false)
        let second = freePort()
        let text = try String(contentsOfFile: gateway.configFile, encoding: .utf8)
        let one = #"[{ "host": "127.0.0.1", "port": \#(gateway.port), "anonymousAs": "plant" }]"#
        #expect(text.contains(one))
        // The registry's clients on the first listener, device oven-1's on the second.
        try text.replacingOccurrences(of: one, with: #"[{ "host": "127.0.0.1", "port": \#(gateway.port), "anonymousAs": "plant" }, { "host": "127.0.0.1", "port": \#(second), "anonymousAs": "oven-1" }]"#)
            .write(toFile: gateway.configFile, atomically: true, encoding: .utf8)
        try gateway.startGateway()

        let subscriber = try RawMQTTClient(port: second)
        _ = try subscriber.connect(Connect(clientIdentifier: "on-second"))
        #expect(try subscriber.subscribe([Subscription(filter: "$registries/plant/config/probe", qos: .atMostOnce)]) == [.granted(.atMostOnce)])
        let publisher = try RawMQTTClient(port: gateway.port)
        _ = try publisher.connect(Connect(clientIdentifier: "on-first"))
        try publisher.send(.publish(Publish(topic: "$registries/plant/config/probe", payload: [7])))
        #expect(try subscriber.nextPublish().payload == [7])
    }
}
