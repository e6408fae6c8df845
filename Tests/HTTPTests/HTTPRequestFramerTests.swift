import HTTP
import Testing

@Suite struct HTTPRequestFramerTests {
    static let formPost = "POST /login HTTP/1.1\r\nHost: gateway.local\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + "Content-Length: 30\r\nCookie: a=1; modbridge_session=abc\r\n\r\nusername=demo&password=s%21x+y"
    static let expectedFormPost = HTTPRequest(
        method: "POST", target: "/login",
        headers: ["Host": "gateway.local", "Content-Type": "application/x-www-form-urlencoded", "Content-Length": "30",
                  "Cookie": "a=1; modbridge_session=abc"],
        body: "username=demo&password=s%21x+y".bytes)

    @Test func aWholeRequestWithABody() {
        let result = frameRequests(Self.formPost.bytes)
        #expect(result.error == nil)
        #expect(result.requests == [Self.expectedFormPost])
    }

    @Test func theSameRequestSplitAtEveryByte() {
        let bytes = Self.formPost.bytes
        for splits in everySplit(of: bytes) {
            let result = frameRequests(bytes, splits: splits)
            #expect(result.error == nil, "splits \(splits)")
            #expect(result.requests == [Self.expectedFormPost], "splits \(splits)")
        }
    }

    @Test func nothingComesOutUntilTheLastBodyByte() throws {
        var framer = HTTPRequestFramer()
        let bytes = Self.formPost.bytes
        framer.append(bytes.dropLast())
        #expect(try framer.next() == nil)
        #expect(framer.bufferedCount == bytes.count - 1)
        framer.append(bytes.suffix(1))
        #expect(try framer.next() == Self.expectedFormPost)
        #expect(framer.bufferedCount == 0)
        #expect(try framer.next() == nil)
    }

    @Test func pipelinedRequestsComeOutOneByOneAndTheRestStaysBuffered() throws {
        let bytes = ("GET /a HTTP/1.1\r\nHost: h\r\n\r\n" + "POST /b?x=1 HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"
            + "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + "GET /d HT").bytes
        let expected = [
            HTTPRequest(method: "GET", target: "/a", headers: ["Host": "h"]),
            HTTPRequest(method: "POST", target: "/b?x=1", version: .http10, headers: ["Content-Length": "3"], body: "abc".bytes),
            HTTPRequest(method: "GET", target: "/c", headers: ["Host": "h", "Connection": "close"]),
        ]
        for splits in everySplit(of: bytes) {
            let result = frameRequests(bytes, splits: splits)
            #expect(result.error == nil && result.requests == expected, "splits \(splits)")
        }
        var framer = HTTPRequestFramer()
        framer.append(bytes)
        #expect(try framer.next() == expected[0])
        #expect(try framer.next() == expected[1])
        #expect(try framer.next() == expected[2])
        #expect(try framer.next() == nil)
        #expect(framer.bufferedCount == 9)
        #expect(framer.takeRemaining() == "GET /d HT".bytes)
        #expect(framer.bufferedCount == 0)
    }

    @Test func takeRemainingGivesTheBytesAfterAnUpgradeRequest() throws {
        let upgrade = "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let frame: [UInt8] = [0x82, 0x82, 1, 2, 3, 4, 0x11, 0x02]
        var framer = HTTPRequestFramer()
        framer.append(upgrade.bytes + frame)
        let request = try #require(try framer.next())
        #expect(request.headers.hasToken("upgrade", in: "Connection"))
        #expect(request.headers["sec-websocket-key"] == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(framer.takeRemaining() == frame)
        #expect(framer.takeRemaining() == [])
    }

    @Test func leadingEmptyLinesAndBareLineFeedsAreTaken() {
        let result = frameRequests("\r\n\n\r\nGET / HTTP/1.1\nHost: h\n\n".bytes)
        #expect(result.error == nil)
        #expect(result.requests == [HTTPRequest(method: "GET", target: "/", headers: ["Host": "h"])])
    }

    @Test func fieldValuesLoseTheirOptionalWhitespaceAndKeepInnerSpaces() {
        let result = frameRequests("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t two  words \t\r\nX-Empty:\r\nX-Empty2:   \r\n\r\n".bytes)
        #expect(result.error == nil)
        #expect(result.requests.first?.headers == ["Host": "h", "X-A": "two  words", "X-Empty": "", "X-Empty2": ""])
    }

    @Test func asteriskOnlyForOptionsAndOneContentLengthRepeated() {
        #expect(frameRequests("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n".bytes).requests.first?.target == "*")
        let repeated = frameRequests("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nok".bytes)
        #expect(repeated.error == nil)
        #expect(repeated.requests.first?.body == "ok".bytes)
    }

    @Test func aRequestExactlyAtEveryLimitIsTaken() {
        // Request line 18 bytes with its CRLF; header section 18 + 9 + 19 bytes; 2 fields; body 3.
        let bytes = "GET /ab HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc".bytes
        let limits = HTTPLimits(maximumRequestLine: 18, maximumHeaderBytes: 18 + 9 + 19, maximumHeaderCount: 2, maximumBodyBytes: 3)
        for splits in everySplit(of: bytes) {
            let result = frameRequests(bytes, splits: splits, limits: limits)
            #expect(result.error == nil && result.requests.count == 1, "splits \(splits)")
        }
    }

    @Test func consumedBytesAreDroppedAsRequestsFollow() throws {
        var framer = HTTPRequestFramer()
        let one = "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n".bytes
        for _ in 0..<1000 {
            framer.append(one)
            #expect(try framer.next()?.target == "/metrics")
        }
        #expect(framer.bufferedCount == 0)
        framer.releaseMemoryIfEmpty()
        framer.append(one.prefix(5))
        #expect(try framer.next() == nil)
        #expect(framer.bufferedCount == 5)
    }
}
