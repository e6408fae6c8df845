import Foundation
import HTTP
import POSIX
import TestSupport
import Testing

/// Python's http.client, a client no one here wrote, against the framer and the encoder over a
/// loopback socket.
@Suite struct HTTPRealClientTests {
    static let peerScript: String = {
        // Tests/HTTPTests/<this file> → Tests/Peers/http_client_peer.py
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/http_client_peer.py").path
    }()

    /// Reads from `connection` into `framer` until a request comes (nil at end of stream or after 10 s).
    private func nextRequest(_ connection: Socket, _ framer: inout HTTPRequestFramer) throws -> HTTPRequest? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while ContinuousClock.now < deadline {
            if let request = try framer.next() { return request }
            guard try connection.wait(for: Int16(POLLIN), timeout: .seconds(1)) else { continue }
            guard let count = try buffer.withUnsafeMutableBytes({ try connection.read(into: $0) }) else { continue }
            if count == 0 { return nil }
            framer.append(buffer[..<count])
        }
        return nil
    }

    @Test func pythonsHTTPClientPostsAFormAndGetsOnTheSameConnection() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = try ChildProcess("python3", [Self.peerScript, String(listener.localPort)])
        defer { _ = client.stop() }
        #expect(try listener.wait(for: Int16(POLLIN), timeout: .seconds(10)))
        let (connection, _) = try #require(try listener.accept())
        defer { connection.close() }
        var framer = HTTPRequestFramer()

        let post = try #require(try nextRequest(connection, &framer))
        #expect(post.method == "POST" && post.target == "/login" && post.version == .http11 && post.keepAlive)
        #expect(post.headers["Host"] == "127.0.0.1:\(listener.localPort)")
        #expect(post.headers["Content-Length"] == "35")
        #expect(post.body == Array("username=d%C3%A9mo&password=s%21x+y".utf8))
        #expect(post.bodyForm["username"] == "démo" && post.bodyForm["password"] == "s!x y")
        #expect(post.cookie("modbridge_session") == "abc")
        var response = HTTPResponse.redirect(to: "/")
        response.headers.add("Set-Cookie", "modbridge_session=new; Path=/; HttpOnly; SameSite=Strict")
        try connection.writeAll(response.encoded(keepAlive: true))

        let get = try #require(try nextRequest(connection, &framer))
        #expect(get.method == "GET" && get.path == "/metrics" && get.queryForm["x"] == "1" && get.body.isEmpty)
        try connection.writeAll(HTTPResponse.text(.ok, "up 1\n").encoded(keepAlive: false))
        #expect(framer.bufferedCount == 0)

        #expect(client.readLine() == "303\tSee Other\t/\tmodbridge_session=new; Path=/; HttpOnly; SameSite=Strict\t")
        #expect(client.readLine() == "200\tOK\t-\t-\tup 1")
        #expect(client.readLine() == "")
        #expect(client.waitForExit() == 0)
    }
}
