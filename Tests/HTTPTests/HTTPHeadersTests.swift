import HTTP
import Testing

@Suite struct HTTPHeadersTests {
    @Test func namesCompareWithoutCaseAndTokensAreFoundInLists() {
        var headers: HTTPHeaders = ["Connection": "keep-alive, Upgrade", "Upgrade": "websocket"]
        #expect(headers["connection"] == "keep-alive, Upgrade")
        #expect(headers.hasToken("upgrade", in: "CONNECTION"))
        #expect(!headers.hasToken("close", in: "Connection"))
        headers.set("upgrade", "h2c")
        #expect(headers.values("Upgrade") == ["h2c"])
    }

    @Test func keepAliveFollowsTheVersionAndConnectionField() {
        #expect(HTTPRequest(method: "GET", target: "/").keepAlive)
        #expect(!HTTPRequest(method: "GET", target: "/", headers: ["Connection": "close"]).keepAlive)
        #expect(!HTTPRequest(method: "GET", target: "/", version: .http10).keepAlive)
        #expect(HTTPRequest(method: "GET", target: "/", version: .http10, headers: ["Connection": "Keep-Alive"]).keepAlive)
        let request = HTTPRequest(method: "GET", target: "/api/devices?registry=demo")
        #expect(request.path == "/api/devices")
        #expect(request.query == "registry=demo")
    }
}
