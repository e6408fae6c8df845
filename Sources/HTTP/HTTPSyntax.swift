/// The byte classes and line grammars of RFC 9110 section 5.6 and RFC 9112 sections 3 and 5,
/// shared by the request framer and the response encoder.
enum HTTPSyntax {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let carriageReturn: UInt8 = 0x0D
    static let lineFeed: UInt8 = 0x0A
    static let colon: UInt8 = 0x3A

    /// tchar (RFC 9110 section 5.6.2): the bytes of methods and field names.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    static func isToken(_ bytes: some Collection<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isTokenByte)
    }

    /// field-vchar, SP or HTAB (RFC 9110 section 5.5): what a field value may hold; obs-text
    /// (0x80–0xFF) is kept, control bytes (CR, LF, NUL) and DEL are not.
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || (byte >= 0x21 && byte != 0x7F)
    }

    /// The bytes of a request target: visible ASCII (RFC 3986's characters, percent-encoded
    /// where needed); no spaces, controls or raw non-ASCII.
    static func isTargetByte(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte)
    }

    /// Parses a request line without its line ending (RFC 9112 section 3):
    /// `method SP request-target SP HTTP-version`.
    static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPError) -> (method: String, target: String, version: HTTPVersion) {
        let parts = line.split(separator: space, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedRequestLine }
        let (method, target, version) = (parts[0], parts[1], parts[2])
        guard isToken(method), !target.isEmpty, target.allSatisfy(isTargetByte) else { throw .malformedRequestLine }
        let methodText = String(decoding: method, as: UTF8.self)
        // Origin form only (section 3.2.1); asterisk form only for OPTIONS (section 3.2.4). A
        // server that is no proxy takes no absolute or authority form here.
        if target.first != UInt8(ascii: "/") && !(target.elementsEqual("*".utf8) && methodText == "OPTIONS") {
            throw .malformedRequestLine
        }
        return (methodText, String(decoding: target, as: UTF8.self), try parseVersion(version))
    }

    /// `HTTP/` DIGIT `.` DIGIT (RFC 9112 section 2.3); 1.0 and 1.1 only.
    private static func parseVersion(_ text: ArraySlice<UInt8>) throws(HTTPError) -> HTTPVersion {
        let bytes = Array(text)
        guard bytes.count == 8, bytes[0..<5].elementsEqual("HTTP/".utf8), bytes[6] == UInt8(ascii: "."),
              let major = digit(bytes[5]), let minor = digit(bytes[7]) else { throw .malformedRequestLine }
        guard major == 1, minor <= 1 else { throw .unsupportedVersion }
        return HTTPVersion(major: major, minor: minor)
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (0x30...0x39).contains(byte) ? Int(byte - 0x30) : nil
    }

    /// Parses a field line without its line ending (RFC 9112 section 5): `name ":" OWS value OWS`.
    /// A line starting with whitespace (obs-fold, section 5.2) or with whitespace before the colon
    /// (section 5.1) is refused.
    static func parseFieldLine(_ line: ArraySlice<UInt8>) throws(HTTPError) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: colon) else { throw .malformedHeader }
        let name = line[line.startIndex..<colon]
        guard isToken(name) else { throw .malformedHeader }
        var value = line[(colon + 1)...]
        guard value.allSatisfy(isFieldValueByte) else { throw .malformedHeader }
        while let first = value.first, first == space || first == tab { value.removeFirst() }
        while let last = value.last, last == space || last == tab { value.removeLast() }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// The one body length the Content-Length fields give (RFC 9110 section 8.6): every field,
    /// and every element of a comma list, must be the same decimal number.
    static func contentLength(_ values: [String]) throws(HTTPError) -> Int? {
        var length: Int?
        for value in values {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let digits = element.trimmingSpaces.utf8
                // 18 digits always fit an Int; a longer length is no length this server takes.
                guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
                    throw .badContentLength
                }
                let number = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                if let length, length != number { throw .badContentLength }
                length = number
            }
        }
        return length
    }
}
