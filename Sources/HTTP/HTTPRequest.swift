/// An HTTP/1.x request as the framer read it (RFC 9112 section 3): request line, header fields
/// and a body of `Content-Length` bytes.
package struct HTTPRequest: Sendable, Equatable {
    /// The method, as sent ("GET", "POST"); methods are case-sensitive (RFC 9110 section 9.1).
    package var method: String
    /// The request target as sent (origin form: "/metrics?x=1").
    package var target: String
    package var version: HTTPVersion
    package var headers: HTTPHeaders
    package var body: [UInt8]

    package init(method: String, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The target's path, before any "?" (not percent-decoded).
    package var path: String {
        guard let mark = target.firstIndex(of: "?") else { return target }
        return String(target[..<mark])
    }

    /// The target's query, after the first "?", if there is one.
    package var query: String? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: mark)...])
    }

    /// Whether the connection stays open after the answer (RFC 9112 section 9.3): HTTP/1.1 unless
    /// "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
    package var keepAlive: Bool {
        if headers.hasToken("close", in: "Connection") { return false }
        if version == .http11 { return true }
        return headers.hasToken("keep-alive", in: "Connection")
    }
}

/// The protocol version of a request line ("HTTP/1.1").
package struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    package var major: Int
    package var minor: Int

    package init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    package static let http10 = HTTPVersion(major: 1, minor: 0)
    package static let http11 = HTTPVersion(major: 1, minor: 1)

    package var description: String { "HTTP/\(major).\(minor)" }
}
