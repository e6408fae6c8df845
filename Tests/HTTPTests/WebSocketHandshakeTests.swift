import HTTP
import TLS
import Testing

@Suite struct WebSocketHandshakeTests {
    static let upgrade: HTTPHeaders = ["Host": "gateway.local", "Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
                                       "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
                                       "Sec-WebSocket-Protocol": "mqttv3.1, mqtt"]

    private func answer(_ headers: HTTPHeaders, method: String = "GET") -> (text: String, accepted: Bool) {
        let request = HTTPRequest(method: method, target: "/mqtt", headers: headers)
        let (response, accepted) = WebSocketHandshake.response(to: request, subprotocol: "mqtt", sha1: { (try? Digests.sha1($0)) ?? [] },
                                                               base64: Base64.encodePadded)
        return (String(decoding: response.encoded(keepAlive: accepted), as: UTF8.self), accepted)
    }

    @Test func theRFCsKeyIsAcceptedWithTheMQTTSubprotocol() {
        let result = answer(Self.upgrade)
        #expect(result.accepted)
        #expect(result.text == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n")
    }

    @Test func noSubprotocolFieldWhenTheClientOfferedNone() {
        var headers = Self.upgrade
        headers.remove("Sec-WebSocket-Protocol")
        #expect(answer(headers).text == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    }

    @Test func refusals() {
        #expect(answer(Self.upgrade, method: "POST").text == "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        var plain = Self.upgrade
        plain.remove("Upgrade")
        #expect(answer(plain).text.hasPrefix("HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\nUpgrade: websocket\r\n"))
        var noConnection = Self.upgrade
        noConnection.set("Connection", "keep-alive")
        #expect(!answer(noConnection).accepted)
        var version8 = Self.upgrade
        version8.set("Sec-WebSocket-Version", "8")
        #expect(answer(version8).text == "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        for key in ["", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZ!==", "dGhlIHNhbXBsZSBub25jZSBh"] {
            var headers = Self.upgrade
            headers.set("Sec-WebSocket-Key", key)
            #expect(answer(headers).text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "key \(key)")
        }
        var twoKeys = Self.upgrade
        twoKeys.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(!answer(twoKeys).accepted)
    }
}
