extension WebSocketHandshake {
    /// The answer to a client's opening handshake (RFC 6455 section 4.2.1): 101 Switching
    /// Protocols with `Sec-WebSocket-Accept`, and `Sec-WebSocket-Protocol: subprotocol` when the
    /// client offered it; otherwise a refusal: 405 for a method other than GET, 426 with
    /// `Upgrade: websocket` for a request that asks no upgrade, 426 with
    /// `Sec-WebSocket-Version: 13` for another version (section 4.4), 400 for a missing or
    /// malformed key. `accepted` says which.
    package static func response(to request: HTTPRequest, subprotocol: String?, sha1: ([UInt8]) -> [UInt8],
                                 base64: ([UInt8]) -> String) -> (response: HTTPResponse, accepted: Bool) {
        guard request.method == "GET" else {
            return (HTTPResponse(status: .methodNotAllowed, headers: ["Allow": "GET"]), false)
        }
        guard request.headers.hasToken("websocket", in: "Upgrade"), request.headers.hasToken("upgrade", in: "Connection") else {
            return (HTTPResponse.text(.upgradeRequired, "a WebSocket upgrade is required here\n").adding("Upgrade", "websocket"), false)
        }
        guard request.headers.values("Sec-WebSocket-Version") == ["13"] else {
            return (HTTPResponse(status: .upgradeRequired, headers: ["Sec-WebSocket-Version": "13"]), false)
        }
        let keys = request.headers.values("Sec-WebSocket-Key")
        guard keys.count == 1, let key = keys.first, isKey(key) else {
            return (HTTPResponse.text(.badRequest, "bad Sec-WebSocket-Key\n"), false)
        }
        var response = HTTPResponse(status: .switchingProtocols, headers: [
            "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Accept": acceptValue(key: key, sha1: sha1, base64: base64),
        ])
        if let subprotocol, request.headers.hasToken(subprotocol, in: "Sec-WebSocket-Protocol") {
            response.headers.add("Sec-WebSocket-Protocol", subprotocol)
        }
        return (response, true)
    }

    /// Section 4.1: the key is 16 bytes in padded base64, so 22 characters of the alphabet and "==".
    static func isKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes[..<22].allSatisfy { byte in
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "+"), UInt8(ascii: "/"): true
            default: false
            }
        }
    }
}

extension HTTPResponse {
    /// The same response with one more header field.
    func adding(_ name: String, _ value: String) -> HTTPResponse {
        var response = self
        response.headers.add(name, value)
        return response
    }
}
