import Broker
import TLS
import MQTT
import TestSupport
import Testing

/// MQTT over WebSocket against a client no one here wrote: paho-mqtt's websockets transport
/// (Tests/Peers/paho_peer.py --websocket /mqtt), plain and over TLS (wss), with TCP clients
/// (paho, mosquitto) on the other side of the same broker.
@Suite("Interop: paho-mqtt over WebSocket (ws and wss) at /mqtt", .serialized)
struct WebSocketInteropTests {
    typealias Peer = BrokerInteropTests.Peer

    private func paho(_ arguments: [String]) throws -> Peer {
        try Peer("python3", [BrokerInteropTests.pahoScript] + arguments, inheritStandardError: true)
    }

    private static func hex(_ text: String) -> String {
        let digits = Array("0123456789abcdef")
        return String(text.utf8.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }

    @Test func aPahoWebSocketSubscriberGetsATCPPublishersMessagesAndAWebSocketPublisherReachesTCP() throws {
        let broker = try Broker.start(BrokerConfiguration(listeners: [
            ListenerConfiguration(host: "127.0.0.1", port: 0),
            ListenerConfiguration(host: "127.0.0.1", port: 0, kind: .http([.webSocket])),
        ]))
        defer { broker.stop() }
        let (mqtt, http) = (String(broker.ports[0]), String(broker.ports[1]))
        let subscriber = try paho(["sub", "--port", http, "--websocket", "/mqtt", "--topic", "plant/#", "--qos", "1", "--count", "2"])
        defer { subscriber.stop() }
        #expect(subscriber.subscribed() == "subscribed 1")
        let publisher = try paho(["pub", "--port", mqtt, "--topic", "plant/oven-1", "--qos", "1", "--message", "65.5", "--qos", "0", "--message", "66"])
        defer { publisher.stop() }
        #expect(publisher.finish() == 0)
        #expect(subscriber.messages(2) == ["msg plant/oven-1 1 0 \(Self.hex("65.5"))", "msg plant/oven-1 0 0 \(Self.hex("66"))"])
        #expect(subscriber.finish() == 0)

        let tcpSubscriber = try paho(["sub", "--port", mqtt, "--topic", "from-ws", "--qos", "1", "--count", "1"])
        defer { tcpSubscriber.stop() }
        #expect(tcpSubscriber.subscribed() == "subscribed 1")
        let webSocketPublisher = try paho(["pub", "--port", http, "--websocket", "/mqtt", "--topic", "from-ws", "--qos", "1", "--message", "hello"])
        defer { webSocketPublisher.stop() }
        #expect(webSocketPublisher.finish() == 0)
        #expect(tcpSubscriber.messages(1) == ["msg from-ws 1 0 \(Self.hex("hello"))"])
    }

    @Test func overTLSTheSameCertificateServesWSS() throws {
        let certificates = try TestCertificates()
        let broker = try Broker.start(BrokerConfiguration(listeners: [
            ListenerConfiguration(host: "127.0.0.1", port: 0),
            ListenerConfiguration(host: "127.0.0.1", port: 0, security: .tls(try TLSContext.server(certificates.server())), kind: .http([.webSocket])),
        ]))
        defer { broker.stop() }
        let subscriber = try paho(["sub", "--port", String(broker.ports[1]), "--websocket", "/mqtt", "--cafile", certificates.path("ca.pem"),
                                   "--topic", "secure/#", "--qos", "1", "--count", "1"])
        defer { subscriber.stop() }
        #expect(subscriber.subscribed() == "subscribed 1")
        let publisher = try paho(["pub", "--port", String(broker.ports[0]), "--topic", "secure/x", "--qos", "1", "--message", "tls"])
        defer { publisher.stop() }
        #expect(publisher.finish() == 0)
        #expect(subscriber.messages(1) == ["msg secure/x 1 0 \(Self.hex("tls"))"])
    }
}
