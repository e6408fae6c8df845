import Broker
import Glibc
import MQTT
import POSIX
import TestSupport
import Testing

@Suite("Broker: several listeners, IPv4 and IPv6, each failure naming its listener")
struct ListenerTests {
    @Test("Listeners on 127.0.0.1 and ::1 serve one broker: a client on each sees the other's messages")
    func ipv4AndIPv6ListenersShareTheBroker() throws {
        let broker = try Broker.start(BrokerConfiguration(listeners: [ListenerConfiguration(host: "127.0.0.1", port: 0),
                                                                      ListenerConfiguration(host: "::1", port: 0)]))
        defer { broker.stop() }
        #expect(broker.ports.count == 2 && broker.ports.allSatisfy { $0 != 0 })
        #expect(broker.port == broker.ports[0])

        let overIPv4 = try RawMQTTClient(host: "127.0.0.1", port: broker.ports[0])
        let overIPv6 = try RawMQTTClient(host: "::1", port: broker.ports[1])
        for (client, id) in [(overIPv4, "v4"), (overIPv6, "v6")] {
            #expect(try client.connect(Connect(clientIdentifier: id, cleanSession: true, keepAlive: 0))
                    == ConnectAcknowledgement(sessionPresent: false, returnCode: .accepted))
            #expect(try client.subscribe([Subscription(filter: "to/\(id)", qos: .atLeastOnce)]) == [.granted(.atLeastOnce)])
        }
        try overIPv4.send(.publish(Publish(topic: "to/v6", payload: Array("from v4"), qos: .atLeastOnce, packetIdentifier: 1)))
        #expect(try overIPv4.next() == .publishAcknowledgement(packetIdentifier: 1))
        let atIPv6 = try overIPv6.nextPublish()
        #expect(atIPv6.topic == "to/v6" && atIPv6.payload == Array("from v4"))

        try overIPv6.send(.publish(Publish(topic: "to/v4", payload: Array("from v6"))))
        let atIPv4 = try overIPv4.nextPublish()
        #expect(atIPv4.topic == "to/v4" && atIPv4.payload == Array("from v6"))
    }

    @Test("A listener whose port is taken fails start with its host:port, and the listeners bound before it are closed")
    func portInUseNamesTheListener() throws {
        let holder = try Broker.start(BrokerConfiguration(listeners: [ListenerConfiguration(host: "127.0.0.1", port: 0),
                                                                      ListenerConfiguration(host: "::1", port: 0)]))
        defer { holder.stop() }
        let free = freePort()
        for (host, taken) in [("127.0.0.1", holder.ports[0]), ("::1", holder.ports[1])] {
            let configuration = BrokerConfiguration(listeners: [ListenerConfiguration(host: "127.0.0.1", port: free),
                                                                ListenerConfiguration(host: host, port: taken)])
            let error = #expect(throws: BrokerError.self) { try Broker.start(configuration) }
            #expect(error == .listenFailed(host: host, port: taken, Errno(rawValue: EADDRINUSE)))
            let named = host.contains(":") ? "[\(host)]:\(taken)" : "\(host):\(taken)"
            #expect(error.map { "\($0)" }?.hasPrefix("cannot listen on \(named): ") == true)
            // The first listener, bound before the failure, let go of its port.
            #expect(!acceptsConnections(port: free))
        }
        let reused = try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: free))
        reused.stop()
    }

    @Test("An address that is not numeric IPv4 or IPv6 fails start naming the listener; no listener at all is refused")
    func invalidListeners() {
        let error = #expect(throws: BrokerError.self) {
            try Broker.start(BrokerConfiguration(listeners: [ListenerConfiguration(host: "127.0.0.1", port: 0),
                                                             ListenerConfiguration(host: "localhost", port: 0)]))
        }
        #expect(error == .listenFailed(host: "localhost", port: 0, Errno(rawValue: EINVAL)))
        #expect(throws: BrokerError.invalidLimit(name: "listeners", value: 0, expected: "at least one listener")) {
            try Broker.start(BrokerConfiguration(listeners: []))
        }
    }

    @Test("HOST:PORT parses IPv4 and bracketed IPv6 and prints back the same way")
    func listenerText() {
        #expect(ListenerConfiguration(parsing: "127.0.0.1:1883") == ListenerConfiguration(host: "127.0.0.1", port: 1883))
        #expect(ListenerConfiguration(parsing: "[::1]:0") == ListenerConfiguration(host: "::1", port: 0))
        #expect(ListenerConfiguration(parsing: "[::]:8883") == ListenerConfiguration(host: "::", port: 8883))
        for bad in ["::1:1883", "127.0.0.1", "127.0.0.1:", ":1883", "[::1]", "[::1]1883", "127.0.0.1:65536", "[]:1"] {
            #expect(ListenerConfiguration(parsing: bad) == nil, "\(bad)")
        }
        #expect("\(ListenerConfiguration(host: "::1", port: 1883))" == "[::1]:1883")
        #expect("\(ListenerConfiguration(host: "127.0.0.1", port: 1883))" == "127.0.0.1:1883")
    }
}
