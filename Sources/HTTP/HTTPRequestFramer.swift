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
///
/// Lines are parsed as they complete and the search for a line's end resumes where it stopped,
/// so each byte is looked at once however the bytes are split. The limits hold while bytes
/// arrive: a request line or header section growing past its limit is refused before its end
/// comes, and a Content-Length past the limit as soon as the header section ends. Leading empty
/// lines (RFC 9112 section 2.2) are skipped and count toward the header section's limit; lines
/// may end in CRLF or a bare LF (section 2.2).
package struct HTTPRequestFramer: Sendable {
    package let limits: HTTPLimits
    /// `buffer[start...]` holds the bytes not yet part of a returned request; `buffer[..<start]`
    /// is dropped at the next `append` when that moves no more bytes than it frees.
    private var buffer: [UInt8] = []
    private var start = 0
    /// The first byte of the line being read (or of the body, once the header section ended).
    private var lineStart = 0
    /// Bytes before this index (from `lineStart`) are known to hold no LF.
    private var scanned = 0
    private var phase = Phase.requestLine
    /// Bytes of the current request's leading empty lines, request line and field lines so far.
    private var sectionBytes = 0
    private var requestLine: (method: String, target: String, version: HTTPVersion)?
    private var headers = HTTPHeaders()
    /// The error thrown, thrown again by every later `next()`: the stream cannot be resynchronised.
    private var failure: HTTPError?

    private enum Phase: Sendable {
        case requestLine
        case fields
        case body(length: Int)
    }

    package init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Adds bytes read from the connection.
    package mutating func append(_ bytes: some Collection<UInt8>) {
        dropConsumedBytes()
        buffer.append(contentsOf: bytes)
    }

    /// The next whole request, or nil until more bytes come. A request past the limits or
    /// breaking the syntax throws; the connection is then answered with the error's status and closed.
    package mutating func next() throws(HTTPError) -> HTTPRequest? {
        if let failure { throw failure }
        do {
            return try readRequest()
        } catch {
            failure = error
            throw error
        }
    }

    /// Takes the lines that completed since the last call, then the body once it is all there.
    private mutating func readRequest() throws(HTTPError) -> HTTPRequest? {
        while true {
            if case let .body(length) = phase {
                guard buffer.count - lineStart >= length, let requestLine else { return nil }
                let request = HTTPRequest(method: requestLine.method, target: requestLine.target, version: requestLine.version,
                                          headers: headers, body: Array(buffer[lineStart..<lineStart + length]))
                resetRequest(at: lineStart + length)
                return request
            }
            guard let lineFeed = findLineFeed() else {
                try checkPartialLine()
                return nil
            }
            var lineEnd = lineFeed
            if lineEnd > lineStart && buffer[lineEnd - 1] == HTTPSyntax.carriageReturn { lineEnd -= 1 }
            let line = buffer[lineStart..<lineEnd]
            let lineLength = lineFeed + 1 - lineStart
            lineStart = lineFeed + 1
            scanned = lineStart
            if case .requestLine = phase {
                try takeRequestLine(line, length: lineLength)
            } else {
                try takeFieldLine(line, length: lineLength)
            }
        }
    }

    /// Bytes received and not yet part of a returned request (after an Upgrade request: the
    /// first bytes of the new protocol), and the framer is emptied.
    package mutating func takeRemaining() -> [UInt8] {
        let remaining = Array(buffer[start...])
        buffer = []
        resetRequest(at: 0)
        failure = nil
        return remaining
    }

    /// Bytes held.
    package var bufferedCount: Int { buffer.count - start }

    /// Gives back the buffer's memory when it holds nothing (an idle keep-alive connection).
    package mutating func releaseMemoryIfEmpty() {
        guard bufferedCount == 0 else { return }
        buffer = []
        // Nothing of a request is held, but leading empty lines already skipped still count.
        start = 0
        lineStart = 0
        scanned = 0
    }

    private mutating func takeRequestLine(_ line: ArraySlice<UInt8>, length: Int) throws(HTTPError) {
        sectionBytes += length
        if line.isEmpty {
            // RFC 9112 section 2.2: empty lines before a request line are ignored.
            guard sectionBytes <= limits.maximumHeaderBytes else { throw .headersTooLarge(limit: limits.maximumHeaderBytes) }
            start = lineStart
            return
        }
        guard length <= limits.maximumRequestLine else { throw .targetTooLong(limit: limits.maximumRequestLine) }
        guard sectionBytes <= limits.maximumHeaderBytes else { throw .headersTooLarge(limit: limits.maximumHeaderBytes) }
        requestLine = try HTTPSyntax.parseRequestLine(line)
        phase = .fields
    }

    private mutating func takeFieldLine(_ line: ArraySlice<UInt8>, length: Int) throws(HTTPError) {
        guard let first = line.first else {
            phase = .body(length: try bodyLength())
            return
        }
        // A line starting with whitespace is obs-fold (RFC 9112 section 5.2), or whitespace
        // between the request line and the first field (section 2.2): both refused.
        guard first != HTTPSyntax.space && first != HTTPSyntax.tab else { throw .malformedHeader }
        sectionBytes += length
        guard sectionBytes <= limits.maximumHeaderBytes else { throw .headersTooLarge(limit: limits.maximumHeaderBytes) }
        guard headers.fields.count < limits.maximumHeaderCount else { throw .headersTooLarge(limit: limits.maximumHeaderCount) }
        let field = try HTTPSyntax.parseFieldLine(line)
        headers.add(field.name, field.value)
    }

    /// The body's length from the complete header section (RFC 9112 section 6.3), checked
    /// against the limit before any of the body is waited for.
    private func bodyLength() throws(HTTPError) -> Int {
        guard headers["Transfer-Encoding"] == nil else { throw .transferEncodingNotSupported }
        // RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any request with several, is a 400.
        let hosts = headers.values("Host").count
        guard hosts <= 1, hosts == 1 || requestLine?.version != .http11 else { throw .malformedHeader }
        let length = try HTTPSyntax.contentLength(headers.values("Content-Length")) ?? 0
        guard length <= limits.maximumBodyBytes else { throw .bodyTooLarge(length: length, limit: limits.maximumBodyBytes) }
        return length
    }

    /// Refuses a line still without its end that already breaks a limit (an endless request
    /// line or header field).
    private func checkPartialLine() throws(HTTPError) {
        var partial = buffer.count - lineStart
        // A trailing CR may be the start of the line's CRLF, or the empty line's.
        if partial > 0 && buffer[buffer.count - 1] == HTTPSyntax.carriageReturn { partial -= 1 }
        guard partial > 0 else { return }
        // The line will be at least one byte longer: its LF.
        if case .requestLine = phase, partial + 1 > limits.maximumRequestLine {
            throw .targetTooLong(limit: limits.maximumRequestLine)
        }
        guard sectionBytes + partial + 1 <= limits.maximumHeaderBytes else { throw .headersTooLarge(limit: limits.maximumHeaderBytes) }
    }

    /// The index of the next LF after `lineStart`, resuming the search where the last one stopped.
    private mutating func findLineFeed() -> Int? {
        guard let index = buffer[scanned...].firstIndex(of: HTTPSyntax.lineFeed) else {
            scanned = buffer.count
            return nil
        }
        return index
    }

    /// Starts reading the next request at `index`.
    private mutating func resetRequest(at index: Int) {
        start = index
        lineStart = index
        scanned = index
        phase = .requestLine
        sectionBytes = 0
        requestLine = nil
        headers = HTTPHeaders()
    }

    /// Drops the bytes of returned requests (`ConsumedBytes`), keeping the scan's places.
    private mutating func dropConsumedBytes() {
        let dropped = ConsumedBytes.drop(&buffer, before: start)
        guard dropped > 0 else { return }
        lineStart -= dropped
        scanned -= dropped
        start = 0
    }
}
