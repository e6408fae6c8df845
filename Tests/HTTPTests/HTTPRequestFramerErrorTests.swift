import HTTP
import Testing

@Suite struct HTTPRequestFramerErrorTests {
    /// The error `text` stops the framer with, whole and split at every byte.
    private func refusal(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPError? {
        let bytes = text.bytes
        let whole = frameRequests(bytes, limits: limits)
        #expect(whole.requests.isEmpty, "\(text.debugDescription) gave a request")
        for splits in everySplit(of: bytes) {
            let split = frameRequests(bytes, splits: splits, limits: limits)
            #expect(split.error == whole.error, "\(text.debugDescription) split at \(splits)")
        }
        return whole.error
    }

    @Test(arguments: [
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
        "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /caf\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / http/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1x\r\nHost: h\r\n\r\n",
        "GET /\ra HTTP/1.1\r\nHost: h\r\n\r\n",
        "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\r\n\r\n",
    ])
    func malformedRequestLines(_ text: String) {
        #expect(refusal(text) == .malformedRequestLine)
    }

    @Test(arguments: ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.1"])
    func unsupportedVersions(_ version: String) {
        #expect(refusal("GET / \(version)\r\nHost: h\r\n\r\n") == .unsupportedVersion)
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-Long: one\r\n two\r\n\r\n",
        "GET / HTTP/1.1\r\n\tHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-Nul: a\u{0}b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-Cr: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-Del: a\u{7f}\r\n\r\n",
        "GET / HTTP/1.1\r\nX-No-Host: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
    ])
    func malformedHeaderFields(_ text: String) {
        #expect(refusal(text) == .malformedHeader)
    }

    @Test func http10NeedsNoHost() {
        #expect(frameRequests("GET / HTTP/1.0\r\n\r\n".bytes).requests == [HTTPRequest(method: "GET", target: "/", version: .http10)])
    }

    @Test(arguments: ["abc", "-1", "+1", "1 2", "1, 2", "", "0x10", "1234567890123456789"])
    func badContentLengths(_ value: String) {
        #expect(refusal("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(value)\r\n\r\n") == .badContentLength)
    }

    @Test func differingContentLengthFields() {
        #expect(refusal("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd") == .badContentLength)
    }

    @Test func transferEncodingIsRefused() {
        #expect(refusal("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n") == .transferEncodingNotSupported)
        #expect(refusal("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc") == .transferEncodingNotSupported)
    }

    @Test func aContentLengthOverTheLimitIsRefusedBeforeTheBodyComes() throws {
        var framer = HTTPRequestFramer(limits: HTTPLimits(maximumBodyBytes: 10))
        framer.append("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r".bytes)
        #expect(try framer.next() == nil)
        framer.append("\n".bytes)
        #expect(throws: HTTPError.bodyTooLarge(length: 11, limit: 10)) { try framer.next() }
        #expect(frameRequests("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789".bytes,
                              limits: HTTPLimits(maximumBodyBytes: 10)).requests.first?.body == "0123456789".bytes)
    }

    /// Feeds `bytes` one at a time; the count fed when the framer threw, and what it threw.
    private func firstRefusal(_ bytes: [UInt8], limits: HTTPLimits) -> (fed: Int, error: HTTPError)? {
        var framer = HTTPRequestFramer(limits: limits)
        for (index, byte) in bytes.enumerated() {
            framer.append([byte])
            do {
                if try framer.next() != nil { return nil }
            } catch {
                return (index + 1, error)
            }
        }
        return nil
    }

    @Test func anEndlessRequestLineIsRefusedOnceItCannotFit() throws {
        let endless = ("GET /" + String(repeating: "a", count: 1000)).bytes
        // 32 bytes without a line end: with its LF the line would be 33.
        let refusal = try #require(firstRefusal(endless, limits: HTTPLimits(maximumRequestLine: 32)))
        #expect(refusal.fed == 32)
        #expect(refusal.error == .targetTooLong(limit: 32))
        #expect(refusal.error.status == .uriTooLong)
        // A 33-byte request line (CRLF included) fits a limit of 33 however it is split (a
        // trailing CR may be the line's own), and not a limit of 32.
        let fits = ("GET /" + String(repeating: "a", count: 17) + " HTTP/1.1\r\nHost: h\r\n\r\n").bytes
        for splits in everySplit(of: fits) {
            #expect(frameRequests(fits, splits: splits, limits: HTTPLimits(maximumRequestLine: 33)).requests.count == 1, "splits \(splits)")
            #expect(frameRequests(fits, splits: splits, limits: HTTPLimits(maximumRequestLine: 32)).error == .targetTooLong(limit: 32))
        }
    }

    @Test func anEndlessHeaderFieldIsRefusedOnceItCannotFit() throws {
        let endless = ("GET / HTTP/1.1\r\nX-Endless: " + String(repeating: "b", count: 1000)).bytes
        // The request line is 16 bytes; a field line of 84 bytes so far needs at least its LF: 101.
        let refusal = try #require(firstRefusal(endless, limits: HTTPLimits(maximumHeaderBytes: 100)))
        #expect(refusal.fed == 100)
        #expect(refusal.error == .headersTooLarge(limit: 100))
        #expect(refusal.error.status == .headerFieldsTooLarge)
    }

    @Test func endlessFieldLinesAndEmptyLinesAreRefused() throws {
        let manyFields = "GET / HTTP/1.1\r\n" + String(repeating: "X-A: 1\r\n", count: 1000)
        #expect(firstRefusal(manyFields.bytes, limits: HTTPLimits(maximumHeaderBytes: 100))?.error == .headersTooLarge(limit: 100))
        let emptyLines = String(repeating: "\r\n", count: 1000)
        // Leading empty lines count toward the header section: the 51st line makes 102 bytes.
        let refusal = try #require(firstRefusal(emptyLines.bytes, limits: HTTPLimits(maximumHeaderBytes: 100)))
        #expect(refusal.fed == 102)
        #expect(refusal.error == .headersTooLarge(limit: 100))
    }

    @Test func moreFieldsThanTheLimit() {
        let three = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"
        #expect(refusal(three, limits: HTTPLimits(maximumHeaderCount: 2)) == .headersTooLarge(limit: 2))
        #expect(frameRequests(three.bytes, limits: HTTPLimits(maximumHeaderCount: 3)).requests.count == 1)
    }

    @Test func anErrorStaysThrownWhateverComesAfter() {
        var framer = HTTPRequestFramer()
        framer.append("GET / HTTP/1.1\r\nBad Name: 1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n".bytes)
        #expect(throws: HTTPError.malformedHeader) { try framer.next() }
        #expect(throws: HTTPError.malformedHeader) { try framer.next() }
        framer.append("GET / HTTP/1.1\r\nHost: h\r\n\r\n".bytes)
        #expect(throws: HTTPError.malformedHeader) { try framer.next() }
    }

    @Test func eachErrorHasItsStatus() {
        #expect(HTTPError.malformedRequestLine.status.code == 400)
        #expect(HTTPError.malformedHeader.status.code == 400)
        #expect(HTTPError.badContentLength.status.code == 400)
        #expect(HTTPError.targetTooLong(limit: 1).status.code == 414)
        #expect(HTTPError.headersTooLarge(limit: 1).status.code == 431)
        #expect(HTTPError.bodyTooLarge(length: 2, limit: 1).status.code == 413)
        #expect(HTTPError.transferEncodingNotSupported.status.code == 411)
        #expect(HTTPError.unsupportedVersion.status.code == 505)
    }
}
