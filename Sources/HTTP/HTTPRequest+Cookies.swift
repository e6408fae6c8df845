extension HTTPRequest {
    /// The value of the cookie `name` from the Cookie field (`a=1; b=2`, RFC 6265 section 5.4),
    /// the first if several have that name; names compare case-sensitively (section 4.2.2).
    package func cookie(_ name: String) -> String? {
        for field in headers.values("Cookie") {
            for pair in field.split(separator: ";") {
                let pair = pair.trimmingSpaces
                guard let equals = pair.firstIndex(of: "=") else { continue }
                if pair[..<equals].trimmingSpaces == name {
                    return String(pair[pair.index(after: equals)...].trimmingSpaces)
                }
            }
        }
        return nil
    }
}
