import Broker
import HTTP
import MQTT
import POSIX
import TestSupport
import Testing

/// Opens a WebSocket at /mqtt with `key` and any extra header lines; the 101 answer.
func openWebSocket(_ connection: HTTPTestConnection, key: String = "dGhlIHNhbXBsZSBub25jZQ==", headers: [String] = [],
                   protocols: String? = "mqtt") throws -> TestHTTPResponse? {
    var request = "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
    if let protocols { request += "Sec-WebSocket-Protocol: \(protocols)\r\n" }
    request += headers.map { $0 + "\r\n" }.joined() + "\r\n"
    try connection.send(request)
    return connection.readResponse()
}

func binaryFrames(_ packet: MQTTPacket) throws -> [UInt8] {
    HTTPTestConnection.clientFrame(opcode: 2, try packet.encoded())
}

@Suite("MQTT over WebSocket at /mqtt (RFC 6455, MQTT 3.1.1 section 6)")
struct WebSocketTests {
    @Test func theHandshakeAnswersWithTheKeysAcceptValueAndTheMQTTSubprotocol() throws {
        let broker = try startHTTPBroker()
        defer { broker.stop() }
        let connection = try HTTPTestConnection(port: broker.ports[1])
        let answer = try #require(try openWebSocket(connection))
        #expect(answer.status == 101)
        // RFC 6455 section 1.3's worked example.
        #expect(answer.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(answer.header("Sec-WebSocket-Protocol") == "mqtt")
        #expect(answer.header("Upgrade") == "websocket")
        #expect(answer.header("Content-Length") == nil)
    }

    @Test func mqttPacketsTravelInBinaryFramesSplitOrCombinedAndReachTCPClients() throws {
        let broker = try startHTTPBroker()
        defer { broker.stop() }
        let connection = try HTTPTestConnection(port: broker.ports[1])
        #expect(try openWebSocket(connection)?.status == 101)
        // CONNECT cut across a binary frame and a continuation (MQTT 3.1.1 section 6: any boundaries).
        let connect = try MQTTPacket.connect(Connect(clientIdentifier: "ws-client", keepAlive: 30)).encoded()
        try connection.send(HTTPTestConnection.clientFrame(opcode: 2, Array(connect[0..<5]), fin: false)
            + HTTPTestConnection.clientFrame(opcode: 0, Array(connect[5...]), mask: [1, 2, 3, 4]))
        let connack = try #require(connection.readFrame())
        #expect(connack.opcode == 2 && connack.fin)
        #expect(connack.payload == [0x20, 0x02, 0x00, 0x00])
        // SUBSCRIBE and PINGREQ in one frame: SUBACK and PINGRESP come back.
        let subscribe = try MQTTPacket.subscribe(Subscribe(packetIdentifier: 7, subscriptions: [Subscription(filter: "plant/#", qos: .atLeastOnce)])).encoded()
        try connection.send(HTTPTestConnection.clientFrame(opcode: 2, subscribe + MQTTPacket.pingRequest.encoded()))
        var answers: [UInt8] = []
        while answers.count < 7, let frame = connection.readFrame() { answers += frame.payload }
        #expect(answers == [0x90, 0x03, 0x00, 0x07, 0x01, 0xD0, 0x00])
        // A WebSocket ping is answered with a pong carrying its payload.
        try connection.send(HTTPTestConnection.clientFrame(opcode: 9, Array("are you there".utf8)))
        let pong = try #require(connection.readFrame())
        #expect(pong.opcode == 0xA && pong.payload == Array("are you there".utf8))
        // A TCP client's message arrives in a frame, QoS 1.
        let tcp = try rawClient(broker, "tcp-client")
        try tcp.send(.publish(Publish(topic: "plant/oven", payload: Array("42".utf8), qos: .atLeastOnce, packetIdentifier: 1)))
        #expect(try tcp.next() == .publishAcknowledgement(packetIdentifier: 1))
        let delivered = try #require(connection.readFrame())
        var framer = MQTTFramer()
        framer.append(delivered.payload)
        guard case let .publish(publish)? = try framer.next() else { Issue.record("not a PUBLISH: \(delivered.payload)"); return }
        #expect(publish.topic == "plant/oven" && publish.payload == Array("42".utf8) && publish.qos == .atLeastOnce)
        // And a WebSocket client's message reaches the TCP client.
        #expect(try tcp.subscribe([Subscription(filter: "from-ws", qos: .atMostOnce)]) == [.granted(.atMostOnce)])
        try connection.send(binaryFrames(.publish(Publish(topic: "from-ws", payload: Array("hi".utf8)))))
        let received = try tcp.nextPublish()
        #expect(received.topic == "from-ws" && received.payload == Array("hi".utf8))
    }

    @Test func aTextFrameOrAnUnmaskedFrameClosesTheConnectionWithItsStatus() throws {
        let broker = try startHTTPBroker()
        defer { broker.stop() }
        for (frame, code) in [(HTTPTestConnection.clientFrame(opcode: 1, Array("{}".utf8)), 1003),
                              (HTTPTestConnection.clientFrame(opcode: 2, [0xC0, 0x00], mask: nil), 1002)] {
            let connection = try HTTPTestConnection(port: broker.ports[1])
            #expect(try openWebSocket(connection)?.status == 101)
            try connection.send(frame)
            let close = try #require(connection.readFrame())
            #expect(close.opcode == 8)
            #expect(close.payload.count >= 2 && Int(close.payload[0]) << 8 | Int(close.payload[1]) == code)
            #expect(connection.waitForClose())
        }
    }

    @Test func aClientsCloseIsEchoedAndItsWillPublished() throws {
        let broker = try startHTTPBroker()
        defer { broker.stop() }
        let watcher = try rawClient(broker, "watcher")
        #expect(try watcher.subscribe([Subscription(filter: "wills/#", qos: .atMostOnce)]) == [.granted(.atMostOnce)])
        let connection = try HTTPTestConnection(port: broker.ports[1])
        #expect(try openWebSocket(connection)?.status == 101)
        try connection.send(binaryFrames(.connect(Connect(clientIdentifier: "ws-will", will: Will(topic: "wills/ws", payload: Array("gone".utf8))))))
        #expect(connection.readFrame()?.payload == [0x20, 0x02, 0x00, 0x00])
        try connection.send(HTTPTestConnection.clientFrame(opcode: 8, [0x03, 0xE8]))
        let close = try #require(connection.readFrame())
        #expect(close.opcode == 8 && close.payload == [0x03, 0xE8])
        #expect(connection.waitForClose())
        #expect(try watcher.nextPublish().payload == Array("gone".utf8))
    }

    @Test func aPageOfAnotherSiteGetsNoAnonymousLogin() throws {
        // A listener that logs clients without credentials in as "plant" (a trusted loopback).
        let broker = try startHTTPBroker(policy: PasswordPolicy()) { $0.listeners[1].anonymousEntity = "plant" }
        defer { broker.stop() }
        func connack(origin: String?, credentials: Bool = false) throws -> [UInt8]? {
            let connection = try HTTPTestConnection(port: broker.ports[1])
            #expect(try openWebSocket(connection, headers: origin.map { ["Origin: \($0)"] } ?? [])?.status == 101)
            let connect = credentials ? Connect(clientIdentifier: "c", username: "plant", password: Array("right password".utf8))
                : Connect(clientIdentifier: "c")
            try connection.send(binaryFrames(.connect(connect)))
            return connection.readFrame()?.payload
        }
        // No Origin (a program), or this host's (a page it served; paho sends https://host too): anonymous.
        #expect(try connack(origin: nil) == [0x20, 0x02, 0x00, 0x00])
        #expect(try connack(origin: "http://127.0.0.1") == [0x20, 0x02, 0x00, 0x00])
        #expect(try connack(origin: "https://127.0.0.1") == [0x20, 0x02, 0x00, 0x00])
        // Another site's page in someone's browser (or a sandboxed one): not anonymous (5)…
        #expect(try connack(origin: "http://evil.example") == [0x20, 0x02, 0x00, 0x05])
        #expect(try connack(origin: "null") == [0x20, 0x02, 0x00, 0x05])
        // …but credentials are checked as anywhere else.
        #expect(try connack(origin: "http://evil.example", credentials: true) == [0x20, 0x02, 0x00, 0x00])
    }

    @Test func upgradesThatAreNotMQTTOverWebSocket13AreRefused() throws {
        let broker = try startHTTPBroker()
        defer { broker.stop() }
        let version = try HTTPTestConnection(port: broker.ports[1])
        try version.send("GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
        let refused = try #require(version.readResponse())
        #expect(refused.status == 426 && refused.header("Sec-WebSocket-Version") == "13")
        let plain = try HTTPTestConnection(port: broker.ports[1])
        #expect(try plain.get("/mqtt")?.status == 426)
        let other = try HTTPTestConnection(port: broker.ports[1])
        #expect(try openWebSocket(other, protocols: "chat, superchat")?.status == 400)
        // No subprotocol offered: served, and none named in the answer.
        let bare = try HTTPTestConnection(port: broker.ports[1])
        let answer = try #require(try openWebSocket(bare, protocols: nil))
        #expect(answer.status == 101 && answer.header("Sec-WebSocket-Protocol") == nil)
        // A listener that does not serve WebSocket hands /mqtt to the site.
        let consoleOnly = try startHTTPBroker(services: [.console])
        defer { consoleOnly.stop() }
        let site = try HTTPTestConnection(port: consoleOnly.ports[1])
        #expect(try openWebSocket(site)?.status == 200)
    }
}

@Suite("The console's login: registry credentials checked by the policy, a session cookie for pages and WebSocket MQTT")
struct ConsoleLoginTests {
    static func login(_ connection: HTTPTestConnection, _ body: String, origin: String? = nil) throws -> TestHTTPResponse? {
        var request = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n"
        if let origin { request += "Origin: \(origin)\r\n" }
        try connection.send(request + "\r\n" + body)
        return connection.readResponse()
    }

    @Test func aWrongPasswordIsRefusedAndCountedAndTheRightOneGivesACookieThePagesAndWebSocketAccept() throws {
        let site = EchoSite()
        let broker = try startHTTPBroker(site: site, policy: PasswordPolicy())
        defer { broker.stop() }
        let connection = try HTTPTestConnection(port: broker.ports[1])
        let wrong = try #require(try Self.login(connection, "username=plant&password=wrong"))
        #expect(wrong.status == 303 && wrong.header("Location") == "/login?failed=1" && wrong.header("Set-Cookie") == nil)
        #expect(broker.statistics.loginsRefused == 1)
        let right = try #require(try Self.login(connection, "username=plant&password=right+password", origin: "http://127.0.0.1"))
        #expect(right.status == 303 && right.header("Location") == "/")
        let cookie = try #require(right.header("Set-Cookie"))
        #expect(cookie.hasPrefix("modbridge_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"))
        let session = String(cookie.split(separator: ";")[0])
        #expect(try connection.get("/", headers: ["Cookie: other=1; \(session)"])?.text == "GET / login=plant")
        #expect(try connection.get("/", headers: ["Cookie: modbridge_session=forged"])?.text == "GET / login=-")
        // The console's WebSocket: a CONNECT without credentials logs in as the session's entity…
        let webSocket = try HTTPTestConnection(port: broker.ports[1])
        #expect(try openWebSocket(webSocket, headers: ["Cookie: \(session)", "Origin: http://127.0.0.1"])?.status == 101)
        try webSocket.send(binaryFrames(.connect(Connect(clientIdentifier: "console-page"))))
        #expect(webSocket.readFrame()?.payload == [0x20, 0x02, 0x00, 0x00])
        // …which a WebSocket without the cookie cannot (no anonymous entity on this listener: 5).
        let stranger = try HTTPTestConnection(port: broker.ports[1])
        #expect(try openWebSocket(stranger)?.status == 101)
        try stranger.send(binaryFrames(.connect(Connect(clientIdentifier: "stranger"))))
        #expect(stranger.readFrame()?.payload == [0x20, 0x02, 0x00, 0x05])
        // Another site's page cannot use the cookie.
        let hijack = try HTTPTestConnection(port: broker.ports[1])
        #expect(try openWebSocket(hijack, headers: ["Cookie: \(session)", "Origin: http://evil.example"])?.status == 403)
        // Logging out ends the session.
        try connection.send("POST /logout HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: \(session)\r\nContent-Length: 0\r\n\r\n")
        let logout = try #require(connection.readResponse())
        #expect(logout.status == 303 && logout.header("Location") == "/login" && logout.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(try connection.get("/", headers: ["Cookie: \(session)"])?.text == "GET / login=-")
    }

    @Test func aLoginFromAnotherSitesPageOrWithoutPasswordFieldIsNotChecked() throws {
        let broker = try startHTTPBroker(policy: PasswordPolicy())
        defer { broker.stop() }
        let connection = try HTTPTestConnection(port: broker.ports[1])
        #expect(try Self.login(connection, "username=plant&password=right+password", origin: "http://evil.example")?.status == 403)
        #expect(try Self.login(connection, "username=plant")?.header("Location") == "/login?failed=1")
        #expect(broker.statistics.loginsRefused == 0)
    }
}
