/// Limits on what one request may carry; a request past them is refused with its status.
package struct HTTPLimits: Sendable, Equatable {
    /// The request line's length, CRLF included.
    package var maximumRequestLine: Int
    /// The header section's length (request line and header fields, up to the empty line).
    package var maximumHeaderBytes: Int
    /// Header fields in one request.
    package var maximumHeaderCount: Int
    /// A body's Content-Length.
    package var maximumBodyBytes: Int

    package init(maximumRequestLine: Int = 8 * 1024, maximumHeaderBytes: Int = 16 * 1024, maximumHeaderCount: Int = 100,
                 maximumBodyBytes: Int = 64 * 1024) {
        self.maximumRequestLine = maximumRequestLine
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumHeaderCount = maximumHeaderCount
        self.maximumBodyBytes = maximumBodyBytes
    }
}

/// Reads whole HTTP/1.x requests out of the bytes a connection received: `next()` returns
/// nothing until a request line, its header section and its body are all there (pipelined
/// requests come out one at a time, in order).
package struct HTTPRequestFramer: Sendable {
    package let limits: HTTPLimits
    private var buffer: [UInt8] = []

    package init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Adds bytes read from the connection.
    package mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next whole request, or nil until more bytes come. A request past the limits or
    /// breaking the syntax throws; the connection is then answered with the error's status and closed.
    package mutating func next() throws(HTTPError) -> HTTPRequest? {
        nil  // seam: implemented in its own commit
    }

    /// Bytes received and not yet part of a returned request (after an Upgrade request: the
    /// first bytes of the new protocol), and the framer is emptied.
    package mutating func takeRemaining() -> [UInt8] {
        defer { buffer = [] }
        return buffer
    }

    /// Bytes held.
    package var bufferedCount: Int { buffer.count }

    /// Gives back the buffer's memory when it holds nothing (an idle keep-alive connection).
    package mutating func releaseMemoryIfEmpty() {
        if buffer.isEmpty { buffer = [] }
    }
}
