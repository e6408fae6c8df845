import Broker
import HTTP
import Mapping

/// The web console's pages, script, style and JSON API (docs/console.md). The broker answers
/// `/mqtt`, `POST /login` and `POST /logout` itself; this site answers the console's other paths
/// and returns nil for any other path (`/metrics`, `/healthz` belong to another site).
///
/// It runs on the broker's reactor thread: it reads the configuration through `configuration`
/// (a copy under a lock, replaced on reload), renders, and returns.
package final class ConsoleSite: Sendable {
    /// The configuration in use, read at every API request (so a reload shows at once).
    private let configuration: @Sendable () -> LoadedConfiguration

    /// `configuration` must return quickly: a copy held under a lock (`ConsoleConfigurationBox.current`).
    package init(configuration: @escaping @Sendable () -> LoadedConfiguration) {
        self.configuration = configuration
    }

    /// What a path is: an HTML page (303 to the login page without a session), an asset or API
    /// (401 without a session), or the login page (served to anyone).
    private enum Route {
        case loginPage, page, script, style, session, devices, config

        init?(path: String) {
            switch path {
            case "/login": self = .loginPage
            case "/", "/index.html": self = .page
            case "/console.js": self = .script
            case "/console.css": self = .style
            case "/api/session": self = .session
            case "/api/devices": self = .devices
            case "/api/config": self = .config
            default: return nil
            }
        }

        var isHTML: Bool { self == .loginPage || self == .page }
    }

    /// The console's answer to `request`, or nil when the path is not the console's.
    /// A listener that does not serve `.console` gets nil for every path.
    package func respond(to request: HTTPRequest, context: HTTPRequestContext) -> HTTPResponse? {
        guard context.services.contains(.console), let route = Route(path: request.path) else { return nil }
        // HEAD gets GET's whole answer: the listener encodes it with `omitBody` (RFC 9110
        // section 9.3.2), so that its Content-Length is still the body's.
        var response = answer(route, request: request, context: context)
        ConsoleHeaders.apply(to: &response, loginPage: route == .loginPage, host: request.headers["Host"], secure: context.secure)
        return response
    }

    private func answer(_ route: Route, request: HTTPRequest, context: HTTPRequestContext) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            var response = route.isHTML ? HTTPResponse.text(.methodNotAllowed, "method not allowed\n")
                : Self.json(.methodNotAllowed, .object(["error": .string("method not allowed")]))
            // POST /login is the broker's; reaching here means it is not taken on this listener.
            response.headers.set("Allow", "GET, HEAD")
            return response
        }
        if route == .loginPage {
            let page = ConsoleLoginPage.html(failed: Self.queryHas(request.query, "failed", "1"), passwordsAccepted: context.passwordsAccepted)
            return .text(.ok, page, contentType: "text/html; charset=utf-8")
        }
        guard let login = context.login else {
            if route.isHTML { return .redirect(to: "/login") }
            var refused = Self.json(.unauthorized, .object(["error": .string("not logged in")]))
            // A 401 names how to authenticate (RFC 9110 section 11.6.1): the login form's
            // cookie, not an HTTP scheme, so a browser shows no password dialog.
            refused.headers.set("WWW-Authenticate", #"Cookie realm="modbridge", form-action="/login", cookie-name="modbridge_session""#)
            return refused
        }
        switch route {
        case .loginPage, .page:
            return .text(.ok, ConsolePage.html, contentType: "text/html; charset=utf-8")
        case .script:
            return .text(.ok, ConsoleScript.source, contentType: "text/javascript; charset=utf-8")
        case .style:
            return .text(.ok, ConsoleStyle.css, contentType: "text/css; charset=utf-8")
        case .session, .devices, .config:
            let view = ConsoleView(configuration: configuration(), entity: login.entity)
            guard let scope = view.scope else {
                // The entity went away with a reload: the session proves nothing any more.
                return Self.json(.forbidden, .object(["error": .string("\(login.entity) is not in the configuration")]))
            }
            switch route {
            case .session: return Self.json(.ok, view.session(scope))
            case .devices: return Self.json(.ok, view.devices(scope))
            default: return Self.json(.ok, view.config(scope))
            }
        }
    }

    private static func json(_ status: HTTPStatus, _ value: JSONValue) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: value.jsonBytes + [UInt8(ascii: "\n")])
    }

    /// Whether `query` holds `name=value` (values compared as sent, not percent-decoded).
    static func queryHas(_ query: String?, _ name: String, _ value: String) -> Bool {
        guard let query else { return false }
        return query.split(separator: "&").contains { $0 == "\(name)=\(value)" }
    }
}
