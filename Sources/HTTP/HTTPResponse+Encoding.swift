extension HTTPResponse {
    /// Appends the response as HTTP/1.1 (RFC 9112 sections 4 and 6): the status line, the
    /// header fields, `Content-Length` (not for 1xx, 204 and 304, which have no content,
    /// RFC 9110 section 8.6), `Connection: close` when the connection closes after it, then the
    /// body unless `omitBody` (the answer to HEAD, whose Content-Length is still the body's).
    ///
    /// Fields the caller set that could split the response are dropped, never written: a name
    /// that is not a token, a value holding CR, LF or another control byte. The caller's own
    /// Content-Length and Transfer-Encoding are dropped too (the length is the body's), and
    /// its Connection fields when the connection closes.
    package func encode(into output: inout [UInt8], keepAlive: Bool, omitBody: Bool = false) {
        let hasContent = status.code >= 200 && status.code != 204 && status.code != 304
        output.append(contentsOf: "HTTP/1.1 \(status.code) ".utf8)
        // The reason phrase is reason-phrase (RFC 9112 section 4): no CR or LF from the caller.
        output.append(contentsOf: status.reason.utf8.filter(HTTPSyntax.isFieldValueByte))
        output.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            guard HTTPSyntax.isToken(name.utf8), value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte) else { continue }
            if HTTPHeaders.sameName(name, "Content-Length") || HTTPHeaders.sameName(name, "Transfer-Encoding") { continue }
            if !keepAlive && HTTPHeaders.sameName(name, "Connection") { continue }
            Self.appendField(name, value, to: &output)
        }
        if hasContent { Self.appendField("Content-Length", String(body.count), to: &output) }
        if !keepAlive { Self.appendField("Connection", "close", to: &output) }
        output.append(contentsOf: "\r\n".utf8)
        if hasContent && !omitBody { output.append(contentsOf: body) }
    }

    /// The encoded response as bytes.
    package func encoded(keepAlive: Bool, omitBody: Bool = false) -> [UInt8] {
        var output: [UInt8] = []
        encode(into: &output, keepAlive: keepAlive, omitBody: omitBody)
        return output
    }

    private static func appendField(_ name: String, _ value: String, to output: inout [UInt8]) {
        output.append(contentsOf: name.utf8)
        output.append(contentsOf: ": ".utf8)
        output.append(contentsOf: value.utf8)
        output.append(contentsOf: "\r\n".utf8)
    }
}
