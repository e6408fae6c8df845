/// A request the server cannot take, with the status it is answered with before the
/// connection is closed.
package enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not "METHOD SP TARGET SP HTTP/x.y CRLF".
    case malformedRequestLine
    /// A header line without a colon, with whitespace before its colon, or with bytes a field may not hold.
    case malformedHeader
    /// The request line is longer than the limit.
    case targetTooLong(limit: Int)
    /// The header section is larger than the limit, or has more fields than it.
    case headersTooLarge(limit: Int)
    /// Content-Length above the limit.
    case bodyTooLarge(length: Int, limit: Int)
    /// Content-Length that is not a number, or several that differ (RFC 9112 section 6.3).
    case badContentLength
    /// A body sent with Transfer-Encoding (chunked): not taken; a length is required.
    case transferEncodingNotSupported
    /// Not HTTP/1.0 or HTTP/1.1.
    case unsupportedVersion

    /// The status the request is answered with.
    package var status: HTTPStatus {
        switch self {
        case .malformedRequestLine, .malformedHeader, .badContentLength: .badRequest
        case .targetTooLong: .uriTooLong
        case .headersTooLarge: .headerFieldsTooLarge
        case .bodyTooLarge: .contentTooLarge
        case .transferEncodingNotSupported: .lengthRequired
        case .unsupportedVersion: .versionNotSupported
        }
    }

    package var description: String {
        switch self {
        case .malformedRequestLine: "malformed request line"
        case .malformedHeader: "malformed header field"
        case let .targetTooLong(limit): "request line longer than \(limit) bytes"
        case let .headersTooLarge(limit): "header section larger than \(limit) bytes"
        case let .bodyTooLarge(length, limit): "body of \(length) bytes, more than \(limit)"
        case .badContentLength: "bad Content-Length"
        case .transferEncodingNotSupported: "Transfer-Encoding bodies are not taken (send Content-Length)"
        case .unsupportedVersion: "not HTTP/1.0 or HTTP/1.1"
        }
    }
}
