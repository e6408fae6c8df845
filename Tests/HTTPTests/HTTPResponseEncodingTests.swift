import HTTP
import Testing

@Suite struct HTTPResponseEncodingTests {
    private func text(_ response: HTTPResponse, keepAlive: Bool = true, omitBody: Bool = false) -> String {
        var output: [UInt8] = [0x2A]  // encode appends: what was there stays.
        response.encode(into: &output, keepAlive: keepAlive, omitBody: omitBody)
        #expect(output.first == 0x2A)
        return String(decoding: output.dropFirst(), as: UTF8.self)
    }

    @Test func aTextResponseKeptAlive() {
        #expect(text(.text(.ok, "hello\n")) == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nhello\n")
    }

    @Test func aResponseBeforeClosing() {
        #expect(text(.text(.notFound, "no"), keepAlive: false)
            == "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
    }

    @Test func headLeavesTheBodyOutButKeepsItsLength() {
        #expect(text(.text(.ok, "hello"), omitBody: true) == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\n")
    }

    @Test func statusesWithoutContentHaveNoLengthAndNoBody() {
        let upgrade = HTTPResponse(status: .switchingProtocols, headers: ["Upgrade": "websocket", "Connection": "Upgrade",
                                                                           "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        #expect(text(upgrade) == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        #expect(text(HTTPResponse(status: .noContent, body: [1, 2])) == "HTTP/1.1 204 No Content\r\n\r\n")
        #expect(text(HTTPResponse(status: .notModified), keepAlive: false) == "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n")
        #expect(text(HTTPResponse(status: .seeOther)) == "HTTP/1.1 303 See Other\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func aRedirectWithACookie() {
        var response = HTTPResponse.redirect(to: "/")
        response.headers.add("Set-Cookie", "modbridge_session=abc; Path=/; HttpOnly; SameSite=Strict")
        #expect(text(response) == "HTTP/1.1 303 See Other\r\nLocation: /\r\nSet-Cookie: modbridge_session=abc; Path=/; HttpOnly; SameSite=Strict\r\n"
            + "Content-Length: 0\r\n\r\n")
    }

    @Test func fieldsThatCouldSplitTheResponseAreDropped() {
        let headers: HTTPHeaders = ["Location": "/x\r\nSet-Cookie: evil=1", "X-Lf": "a\nb", "X-Nul": "a\u{0}", "Bad Name": "v",
                                    "X:Colon": "v", "": "v", "X-Fine": "caf\u{e9} \tok", "Content-Length": "99",
                                    "Transfer-Encoding": "chunked"]
        let response = HTTPResponse(status: HTTPStatus(200, "OK\r\nX-Injected: 1"), headers: headers, body: "hi".bytes)
        #expect(text(response) == "HTTP/1.1 200 OKX-Injected: 1\r\nX-Fine: caf\u{e9} \tok\r\nContent-Length: 2\r\n\r\nhi")
    }

    @Test func theCallersConnectionFieldGivesWayToClose() {
        let response = HTTPResponse(status: .ok, headers: ["Connection": "keep-alive"])
        #expect(text(response, keepAlive: true) == "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
        #expect(text(response, keepAlive: false) == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    @Test func anEncodedResponseReadsBackAsIts() {
        // A 64 KiB binary body keeps every byte.
        let body = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let bytes = HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: body).encoded(keepAlive: true)
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n".bytes
        #expect(Array(bytes.prefix(head.count)) == head)
        #expect(Array(bytes.dropFirst(head.count)) == body)
    }
}
