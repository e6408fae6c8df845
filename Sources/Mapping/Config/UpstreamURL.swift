/// `broker.upstream.url`: `mqtt://host[:port]` (port 1883 by default) or `mqtts://host[:port]`
/// (TLS, port 8883 by default); an IPv6 address goes in brackets (`mqtts://[2001:db8::1]:8883`).
struct UpstreamURL: Equatable, Sendable {
    var host: String
    var port: UInt16
    var tls: Bool

    /// What a URL was expected to be, for a message "found ..., expected <reason>".
    struct Problem: Error, Equatable {
        let expected: String
    }

    /// The URL's parts, or what it should have been.
    static func parse(_ text: String) -> Result<UpstreamURL, Problem> {
        let tls: Bool
        let rest: Substring
        if text.hasPrefix("mqtt://") {
            (tls, rest) = (false, text.dropFirst("mqtt://".count))
        } else if text.hasPrefix("mqtts://") {
            (tls, rest) = (true, text.dropFirst("mqtts://".count))
        } else {
            return .failure(Problem(expected: "a URL starting with mqtt:// or mqtts://, such as mqtts://broker.example.com:8883"))
        }
        if rest.contains(where: { "/?#@".contains($0) || $0.isWhitespace }) {
            return .failure(Problem(expected: "scheme://host[:port] only: no path, query or user name (give username and password as keys)"))
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return .failure(Problem(expected: "a closing ']' after the IPv6 address")) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let tail = rest[rest.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":") else { return .failure(Problem(expected: "':port' or nothing after the bracketed IPv6 address")) }
                portText = tail.dropFirst()
            }
            guard isIPv6(host) else {
                return .failure(Problem(expected: "an IPv6 address between the brackets, such as [2001:db8::1]"))
            }
        } else {
            let colons = rest.filter { $0 == ":" }.count
            if colons > 1 {
                return .failure(Problem(expected: "an IPv6 address in brackets, such as mqtt://[2001:db8::1]:1883"))
            }
            if let colon = rest.firstIndex(of: ":") {
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            } else {
                host = rest
            }
            guard isHostName(host) else {
                return .failure(Problem(expected: "a host name or IPv4 address after the scheme (letters, digits, '-', '.', '_')"))
            }
        }
        var port: UInt16 = tls ? 8883 : 1883
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), portText.count <= 5,
                  let number = Int(portText), (1...65535).contains(number) else {
                return .failure(Problem(expected: "a port 1...65535 after the host"))
            }
            port = UInt16(number)
        }
        return .success(UpstreamURL(host: String(host), port: port, tls: tls))
    }

    /// Letters, digits, '-', '.' and '_', at most 253 bytes (DNS).
    private static func isHostName(_ host: Substring) -> Bool {
        !host.isEmpty && host.utf8.count <= 253
            && host.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._".unicodeScalars.contains($0)) }
    }

    /// Hex digits, ':' and '.' (an embedded IPv4), at least two ':'; a zone (`%eth0`) may follow.
    private static func isIPv6(_ host: Substring) -> Bool {
        let parts = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        let address = parts[0]
        guard address.filter({ $0 == ":" }).count >= 2, address.utf8.count <= 45,
              address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
        guard parts.count == 2 else { return true }
        let zone = parts[1]
        return !zone.isEmpty && zone.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }
    }
}
