import Broker
import Foundation
import GatewayCore
import HTTP
import Mapping
import Testing
import TestSupport

/// The console's routes, answered without sockets: what is served with and without a login,
/// what each login sees, what never leaves (credentials), and the header fields on every answer.
@Suite struct ConsoleSiteTests {
    /// Stands for a hash in the config; the site must never send it. (Mapping checks only its shape.)
    static let registryHash = "$pbkdf2-sha256$100000$c2VjcmV0LXNhbHQ$registry-hash-that-must-not-leak"
    static let deviceHash = "$pbkdf2-sha256$100000$ZGV2aWNlLXNhbHQ$device-hash-that-must-not-leak"

    /// The demo config (two simulated ovens in registry `demo`) with a password on the registry
    /// and on oven-2, a certificate file on oven-1, and a second registry the demo must not see.
    private static func demoConfiguration() throws -> (LoadedConfiguration, TemporaryFolder) {
        let folder = TemporaryFolder()
        let config = """
        { "broker": { "mode": "embedded", "listeners": [{ "host": "127.0.0.1", "port": 1883, "insecure": true }] },
          "profiles": ["\(CheckCommandTests.repository)/mappings"],
          "buses": [{ "id": "sim", "type": "simulator", "units": [1, 2, 3] }],
          "registries": [
            { "id": "demo", "credentials": { "passwords": ["\(registryHash)"] }, "devices": [
              { "id": "oven-1", "bus": "sim", "unit": 1, "profile": "modbridge-simulator",
                "credentials": { "certificates": [{ "fingerprint": "\(String(repeating: "ab", count: 32))" }] } },
              { "id": "oven-2", "bus": "sim", "unit": 2, "profile": "modbridge-simulator",
                "credentials": { "passwords": ["\(deviceHash)"] } }
            ] },
            { "id": "other", "devices": [{ "id": "secret-oven", "bus": "sim", "unit": 3, "profile": "modbridge-simulator" }] }
          ] }
        """
        try config.write(toFile: folder.path + "/modbridge.json", atomically: true, encoding: .utf8)
        return (try ConfigurationLoader.load(configFile: folder.path + "/modbridge.json"), folder)
    }

    private static func site() throws -> (ConsoleSite, TemporaryFolder) {
        let (configuration, folder) = try demoConfiguration()
        let box = ConsoleConfigurationBox(configuration)
        return (ConsoleSite(configuration: { box.current() }), folder)
    }

    private static func context(_ entity: String?, secure: Bool = false, passwordsAccepted: Bool = true) -> HTTPRequestContext {
        HTTPRequestContext(login: entity.map(ConsoleLogin.init(entity:)), services: .all, secure: secure, remoteAddress: "127.0.0.1:50000",
                           passwordsAccepted: passwordsAccepted)
    }

    private static func get(_ site: ConsoleSite, _ target: String, as entity: String?, method: String = "GET") throws -> HTTPResponse {
        let request = HTTPRequest(method: method, target: target, headers: ["Host": "127.0.0.1:8080"])
        return try #require(site.respond(to: request, context: context(entity)))
    }

    private static func json(_ response: HTTPResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    private static func text(_ response: HTTPResponse) -> String {
        String(decoding: response.body, as: UTF8.self)
    }

    @Test func theLoginPageIsServedWithoutLoginAndSaysWhenALoginFailed() throws {
        let (site, _) = try Self.site()
        let page = try Self.get(site, "/login", as: nil)
        #expect(page.status == .ok)
        #expect(page.headers["Content-Type"] == "text/html; charset=utf-8")
        let html = Self.text(page)
        #expect(html.contains(#"<form method="post" action="/login""#))
        #expect(html.contains(#"name="username""#) && html.contains(#"name="password""#) && html.contains(#"type="password""#))
        #expect(!html.contains("<script"))
        #expect(!html.contains("wrong user name or password"))
        let failed = Self.text(try Self.get(site, "/login?failed=1", as: nil))
        #expect(failed.contains("wrong user name or password"))
        // Plain HTTP on a listener not marked insecure takes no password: the page says why and
        // what to change, rather than offering a form whose every login would fail.
        let request = HTTPRequest(method: "GET", target: "/login", headers: ["Host": "127.0.0.1:8080"])
        let plain = try #require(site.respond(to: request, context: Self.context(nil, passwordsAccepted: false)))
        let notice = Self.text(plain)
        #expect(plain.status == .ok && notice.contains(#"id="login-unavailable""#) && notice.contains(#""insecure": true"#))
        #expect(!notice.contains("<form") && !notice.contains(#"type="password""#))
    }

    @Test(arguments: ["/", "/index.html"])
    func pagesRedirectToTheLoginPageWithoutLogin(path: String) throws {
        let (site, _) = try Self.site()
        let response = try Self.get(site, path, as: nil)
        #expect(response.status == .seeOther)
        #expect(response.headers["Location"] == "/login")
        #expect(response.body.isEmpty)
    }

    @Test(arguments: ["/console.js", "/console.css", "/api/session", "/api/devices", "/api/config"])
    func assetsAndTheAPIAreRefusedWithoutLogin(path: String) throws {
        let (site, _) = try Self.site()
        let response = try Self.get(site, path, as: nil)
        #expect(response.status == .unauthorized)
        #expect(response.headers["WWW-Authenticate"]?.hasPrefix("Cookie realm=\"modbridge\"") == true)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(try Self.json(response)["error"] as? String == "not logged in")
        #expect(!Self.text(response).contains("MqttConnection"))
    }

    @Test func otherPathsAreNotTheConsoles() throws {
        let (site, _) = try Self.site()
        for path in ["/metrics", "/healthz", "/mqtt", "/api/other", "/console.js.map"] {
            #expect(site.respond(to: HTTPRequest(method: "GET", target: path), context: Self.context("demo")) == nil)
        }
    }

    @Test func aLoginGetsThePageScriptAndStyle() throws {
        let (site, _) = try Self.site()
        let page = try Self.get(site, "/", as: "demo")
        #expect(page.status == .ok)
        let html = Self.text(page)
        #expect(html.contains(#"<script src="/console.js" defer></script>"#))
        #expect(html.contains(#"<link rel="stylesheet" href="/console.css">"#))
        #expect(html.contains(#"action="/logout""#))
        // No inline script or style: the policy forbids them on this page.
        #expect(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style=") && !html.contains("onclick"))

        let script = try Self.get(site, "/console.js", as: "demo")
        #expect(script.headers["Content-Type"] == "text/javascript; charset=utf-8")
        let source = Self.text(script)
        #expect(source.hasPrefix("\"use strict\";"))
        #expect(source.contains(#"new WebSocket(this.url, "mqtt")"#))
        #expect(source.contains("\"$devices/\" + id + \"/state\""))

        let style = try Self.get(site, "/console.css", as: "demo")
        #expect(style.headers["Content-Type"] == "text/css; charset=utf-8")
        #expect(Self.text(style).contains("@media (max-width: 40rem)"))
    }

    @Test func aRegistryLoginSeesItsDevicesWithTheirPoints() throws {
        let (site, _) = try Self.site()
        let session = try Self.json(try Self.get(site, "/api/session", as: "demo"))
        #expect(session["entity"] as? String == "demo")
        #expect(session["kind"] as? String == "registry")
        #expect(session["canWrite"] as? Bool == true)

        let devices = try #require(try Self.json(try Self.get(site, "/api/devices", as: "demo"))["devices"] as? [[String: Any]])
        #expect(devices.map { $0["id"] as? String } == ["oven-1", "oven-2"])
        let oven = devices[0]
        #expect(oven["bus"] as? String == "sim")
        #expect(oven["unit"] as? Int == 1)
        #expect(oven["profile"] as? String == "modbridge-simulator")
        let points = try #require(oven["points"] as? [[String: Any]])
        let setPoint = try #require(points.first { $0["name"] as? String == "set_point" })
        #expect(setPoint["unit"] as? String == "°C")
        #expect(setPoint["type"] as? String == "int16")
        #expect(setPoint["writable"] as? Bool == true)
        #expect(setPoint["min"] as? Double == 0)
        #expect(setPoint["max"] as? Double == 170)
        let temperature = try #require(points.first { $0["name"] as? String == "temperature" })
        #expect(temperature["writable"] as? Bool == false)
        #expect(temperature["min"] == nil)
        let running = try #require(points.first { $0["name"] as? String == "running" })
        #expect(running["labels"] as? [String] == ["stopped", "running"])
    }

    @Test func aDeviceLoginSeesOnlyItself() throws {
        let (site, _) = try Self.site()
        let session = try Self.json(try Self.get(site, "/api/session", as: "oven-2"))
        #expect(session["kind"] as? String == "device")
        #expect(session["registry"] as? String == "demo")
        #expect(session["canWrite"] as? Bool == false)
        let devices = try #require(try Self.json(try Self.get(site, "/api/devices", as: "oven-2"))["devices"] as? [[String: Any]])
        #expect(devices.map { $0["id"] as? String } == ["oven-2"])
        let config = Self.text(try Self.get(site, "/api/config", as: "oven-2"))
        #expect(config.contains("\"oven-2\"") && !config.contains("\"oven-1\"") && !config.contains("secret-oven"))
    }

    @Test func anEntityNoLongerConfiguredIsRefused() throws {
        let (site, _) = try Self.site()
        let response = try Self.get(site, "/api/devices", as: "gone-after-reload")
        #expect(response.status == .forbidden)
    }

    @Test func theSiteReadsTheConfigurationAgainAfterAReload() throws {
        let (configuration, _) = try Self.demoConfiguration()
        let box = ConsoleConfigurationBox(configuration)
        let site = ConsoleSite(configuration: { box.current() })
        var reloaded = configuration
        reloaded.config.registries[0].devices.removeLast()
        box.replace(reloaded)
        let devices = try #require(try Self.json(try Self.get(site, "/api/devices", as: "demo"))["devices"] as? [[String: Any]])
        #expect(devices.map { $0["id"] as? String } == ["oven-1"])
    }

    @Test func theConfigShowsBusesAndTheRegistryWithCredentialsCountedOnly() throws {
        let (site, _) = try Self.site()
        let response = try Self.get(site, "/api/config", as: "demo")
        let text = Self.text(response)
        #expect(!text.contains("pbkdf2") && !text.contains("must-not-leak") && !text.contains("abababab"))
        #expect(!text.contains("secret-oven") && !text.contains("\"other\""))
        let config = try Self.json(response)
        #expect(config["modbridge"] as? String == ModbridgeVersion.current)
        let buses = try #require(config["buses"] as? [[String: Any]])
        #expect(buses.first?["id"] as? String == "sim")
        #expect(buses.first?["type"] as? String == "simulator")
        let registry = try #require(config["registry"] as? [String: Any])
        #expect(registry["id"] as? String == "demo")
        #expect(registry["credentials"] as? [String: Int] == ["passwords": 1, "certificates": 0])
        let devices = try #require(registry["devices"] as? [[String: Any]])
        #expect(devices.map { $0["id"] as? String } == ["oven-1", "oven-2"])
        #expect(devices[0]["credentials"] as? [String: Int] == ["passwords": 0, "certificates": 1])
        #expect(devices[1]["credentials"] as? [String: Int] == ["passwords": 1, "certificates": 0])
        #expect((devices[0]["modbus"] as? [String: Any])?["profile"] as? String == "modbridge-simulator")
        let broker = try #require(config["broker"] as? [String: Any])
        #expect(broker["mode"] as? String == "embedded")
    }

    @Test func everyAnswerCarriesTheSecurityHeaders() throws {
        let (site, _) = try Self.site()
        let answers = [try Self.get(site, "/login", as: nil), try Self.get(site, "/", as: nil), try Self.get(site, "/api/devices", as: nil),
                       try Self.get(site, "/", as: "demo"), try Self.get(site, "/console.js", as: "demo"),
                       try Self.get(site, "/api/config", as: "demo"), try Self.get(site, "/", as: "demo", method: "POST")]
        for response in answers {
            #expect(response.headers["Cache-Control"] == "no-store")
            #expect(response.headers["X-Content-Type-Options"] == "nosniff")
            #expect(response.headers["Referrer-Policy"] == "same-origin")
            #expect(response.headers["X-Frame-Options"] == "DENY")
            let policy = try #require(response.headers["Content-Security-Policy"])
            #expect(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"))
            #expect(!policy.contains("unsafe-eval"))
        }
        let pagePolicy = try #require(try Self.get(site, "/", as: "demo").headers["Content-Security-Policy"])
        #expect(pagePolicy.contains("script-src 'self';") && pagePolicy.contains("style-src 'self';"))
        #expect(pagePolicy.contains("connect-src 'self' ws://127.0.0.1:8080"))
        #expect(!pagePolicy.contains("unsafe-inline"))
        let loginPolicy = try #require(try Self.get(site, "/login", as: nil).headers["Content-Security-Policy"])
        #expect(loginPolicy.contains("script-src 'none'") && loginPolicy.contains("style-src 'unsafe-inline'"))
    }

    @Test func theWebSocketSourceFollowsTheConnectionsSecurityAndAnOddHostIsLeftOut() throws {
        let (site, _) = try Self.site()
        let secure = try #require(site.respond(to: HTTPRequest(method: "GET", target: "/", headers: ["Host": "box.local:8443"]),
                                               context: Self.context("demo", secure: true)))
        #expect(secure.headers["Content-Security-Policy"]?.contains("connect-src 'self' wss://box.local:8443") == true)
        let odd = try #require(site.respond(to: HTTPRequest(method: "GET", target: "/", headers: ["Host": "x; script-src *"]),
                                            context: Self.context("demo")))
        #expect(odd.headers["Content-Security-Policy"]?.hasSuffix("connect-src 'self'") == true)
    }

    /// HEAD is answered as GET; the listener leaves the body out when it encodes the answer.
    @Test func headIsAnsweredAsGet() throws {
        let (site, _) = try Self.site()
        let get = try Self.get(site, "/console.js", as: "demo")
        let head = try Self.get(site, "/console.js", as: "demo", method: "HEAD")
        #expect(head == get)
        #expect(try Self.get(site, "/", as: nil, method: "HEAD").status == .seeOther)
    }

    @Test func aListenerWithoutTheConsoleServesNoneOfIt() throws {
        let (site, _) = try Self.site()
        let context = HTTPRequestContext(login: ConsoleLogin(entity: "demo"), services: [.metrics, .webSocket], secure: false, remoteAddress: "127.0.0.1:1",
                                         passwordsAccepted: true)
        for path in ["/login", "/", "/console.js", "/api/devices"] {
            #expect(site.respond(to: HTTPRequest(method: "GET", target: path), context: context) == nil)
        }
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "PATCH"])
    func otherMethodsAreNotAllowed(method: String) throws {
        let (site, _) = try Self.site()
        for path in ["/", "/login", "/api/devices", "/console.js"] {
            let response = try Self.get(site, path, as: "demo", method: method)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers["Allow"] == "GET, HEAD")
        }
    }
}
