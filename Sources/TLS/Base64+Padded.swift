extension Base64 {
    /// Standard base64 with `=` padding to a multiple of 4 characters (RFC 4648 section 4), as
    /// HTTP fields carry it (Sec-WebSocket-Accept, RFC 6455 section 4.2.2).
    package static func encodePadded(_ bytes: [UInt8]) -> String {
        var text = encode(bytes)
        // The unpadded form leaves 2 or 3 characters of a last partial group.
        let partial = text.utf8.count % 4
        if partial > 0 { text += String(repeating: "=", count: 4 - partial) }
        return text
    }
}
