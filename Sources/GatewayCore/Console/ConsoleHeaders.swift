import HTTP

/// The header fields on every console answer: nothing cached, nothing framed, no referrer to other sites, no
/// content sniffing, and a Content-Security-Policy that allows only the console's own script,
/// style and WebSocket (docs/console.md, "Security").
enum ConsoleHeaders {
    static func apply(to response: inout HTTPResponse, loginPage: Bool, host: String?, secure: Bool) {
        response.headers.set("Cache-Control", "no-store")
        response.headers.set("Content-Security-Policy", policy(loginPage: loginPage, host: host, secure: secure))
        response.headers.set("X-Content-Type-Options", "nosniff")
        // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with the
        // login form's POST, which the broker's cross-site check must refuse; same-origin still
        // gives other sites nothing.
        response.headers.set("Referrer-Policy", "same-origin")
        response.headers.set("X-Frame-Options", "DENY")
    }

    /// The login page has no script at all and its style inline; the console page only the
    /// files it names. Images may be `data:` for the empty icon both pages name, so that the
    /// browser does not ask for /favicon.ico (which, like everything, needs a login).
    /// `connect-src` lists the same host's ws/wss too: browsers that predate CSP Level 3 do not
    /// let 'self' match a WebSocket URL.
    static func policy(loginPage: Bool, host: String?, secure: Bool) -> String {
        var connect = "'self'"
        if let host, isPlainHost(host) { connect += " \(secure ? "wss" : "ws")://\(host)" }
        let common = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        if loginPage {
            return "\(common); script-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'none'"
        }
        return "\(common); script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src \(connect)"
    }

    /// A Host field fit to be written into the policy: a name or address and a port, nothing
    /// that could end the directive or add another source.
    static func isPlainHost(_ host: String) -> Bool {
        !host.isEmpty && host.utf8.count <= 255 && host.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"): true
            default: false
            }
        }
    }
}
