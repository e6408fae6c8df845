import Broker
import FoundationEssentials
import TestSupport
import TLS
import Testing

/// An HTTP listener over TLS, spoken to by the `openssl s_client` CLI (a real TLS peer that
/// checks the broker's certificate against the test CA): the same certificate files as MQTT,
/// and the console's cookie marked `Secure`.
@Suite("HTTPS: an HTTP listener with TLS, against openssl s_client", .serialized)
struct HTTPSListenerTests {
    /// One request over TLS with `Connection: close`; the whole answer as text, headers first.
    static func exchange(port: UInt16, certificates: TestCertificates, request: String) throws -> String {
        let folder = TemporaryFolder()
        let requestFile = folder.path + "/request"
        try Data(request.utf8).write(to: URL(fileURLWithPath: requestFile))
        // -verify_return_error: a certificate the CA did not sign ends the handshake; -ign_eof:
        // the request file's end does not close before the answer (the server closes). The echo
        // ends the body's last line, which readLine needs.
        let client = try ChildProcess("sh", ["-c", "openssl s_client -quiet -ign_eof -verify_return_error -connect 127.0.0.1:\(port) "
                                           + "-servername server.test -verify_hostname server.test -CAfile '\(certificates.path("ca.pem"))' "
                                           + "< '\(requestFile)'; status=$?; echo; exit $status"])
        defer { _ = client.stop() }
        var lines: [String] = []
        while let line = client.readLine(timeout: .seconds(30)) { lines.append(line) }
        #expect(client.waitForExit() == 0)
        return lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }.joined(separator: "\n")
    }

    @Test func theConsoleLoginOverTLSSetsASecureCookieAndThePagesAnswerWithIt() throws {
        let certificates = try TestCertificates()
        let broker = try Broker.start(BrokerConfiguration(listeners: [
            ListenerConfiguration(host: "127.0.0.1", port: 0),
            ListenerConfiguration(host: "127.0.0.1", port: 0, security: .tls(try TLSContext.server(certificates.server())), kind: .http(.all)),
        ]), policy: PasswordPolicy(), site: EchoSite())
        defer { broker.stop() }
        let port = broker.ports[1]
        let body = "username=plant&password=right+password"
        let login = try Self.exchange(port: port, certificates: certificates, request:
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nOrigin: https://127.0.0.1:\(port)\r\nConnection: close\r\n"
            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        #expect(login.hasPrefix("HTTP/1.1 303 "), "\(login)")
        let cookieLine = try #require(login.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("set-cookie:") }, "\(login)")
        #expect(cookieLine.contains("HttpOnly") && cookieLine.contains("SameSite=Strict") && cookieLine.contains("; Secure"), "\(cookieLine)")
        let session = try #require(cookieLine.split(separator: ":", maxSplits: 1).last?.split(separator: ";").first).drop { $0 == " " }
        let page = try Self.exchange(port: port, certificates: certificates, request:
            "GET /devices HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: \(session)\r\nConnection: close\r\n\r\n")
        #expect(page.hasPrefix("HTTP/1.1 200 ") && page.hasSuffix("GET /devices login=plant"), "\(page)")
    }
}
