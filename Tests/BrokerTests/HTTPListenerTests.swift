import Broker
import HTTP
import MQTT
import POSIX
import Synchronization
import TestSupport
import Testing

/// A site that answers every request with what it saw: method, target and the login.
final class EchoSite: HTTPSite {
    let contexts = Mutex<[HTTPRequestContext]>([])

    func respond(to request: HTTPRequest, context: HTTPRequestContext) -> HTTPResponse {
        contexts.withLock { $0.append(context) }
        return .text(.ok, "\(request.method) \(request.target) login=\(context.login?.entity ?? "-")")
    }
}

/// One entity, "plant", with the password "right password", checked on the verifier's thread
/// like a real hash; clients without credentials get the listener's anonymous entity.
struct PasswordPolicy: BrokerPolicy {
    func authenticate(_ request: ConnectRequest) -> AuthenticationStep {
        let identity = ClientIdentity(clientID: request.clientID, username: request.username, remoteAddress: request.remoteAddress)
        guard let password = request.password else {
            if request.username == nil, let anonymous = request.anonymousEntity {
                return .decided(.accepted(ClientIdentity(clientID: request.clientID, username: anonymous, remoteAddress: request.remoteAddress),
                                          OpenSessionPolicy.shared))
            }
            return .decided(.refused(.notAuthorized, Refusal(entity: request.username, reason: "no credentials")))
        }
        let right = request.username == "plant" && password == Array("right password".utf8)
        return .verify {
            right ? .accepted(identity, OpenSessionPolicy.shared)
                : .refused(.badUsernameOrPassword, Refusal(entity: identity.username, reason: "wrong password"))
        }
    }
}

func startHTTPBroker(services: HTTPServices = .all, site: any HTTPSite = EchoSite(), policy: any BrokerPolicy = OpenPolicy(),
                     _ configure: (inout BrokerConfiguration) -> Void = { _ in }) throws -> Broker {
    var configuration = BrokerConfiguration(listeners: [
        ListenerConfiguration(host: "127.0.0.1", port: 0),
        ListenerConfiguration(host: "127.0.0.1", port: 0, insecure: true, kind: .http(services)),
    ])
    configure(&configuration)
    return try Broker.start(configuration, policy: policy, site: site)
}

@Suite("HTTP listeners: requests in the broker's reactor, keep-alive, limits, deadlines")
struct HTTPListenerTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnectionAndPipelinedOnesInOrder() throws {
        let site = EchoSite()
        let broker = try startHTTPBroker(site: site)
        defer { broker.stop() }
        let connection = try HTTPTestConnection(port: broker.ports[1])
        let first = try #require(try connection.get("/one"))
        #expect(first.status == 200)
        #expect(first.text == "GET /one login=-")
        #expect(first.header("Content-Length") == "16")
        #expect(first.header("Connection") == nil)
        let second = try #require(try connection.get("/two?x=1"))
        #expect(second.text == "GET /two?x=1 login=-")
        // Three requests in one write, the last a HEAD: three answers, in order, the HEAD's without body.
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyzHEAD /c HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(connection.readResponse()?.text == "GET /a login=-")
        #expect(connection.readResponse()?.text == "POST /b login=-")
        let head = try #require(connection.readResponse(toHEAD: true))
        #expect(head.header("Content-Length") == "15")
        #expect(head.body.isEmpty)
        #expect(!connection.closedByServer)
        let seen = site.contexts.withLock { $0 }
        #expect(seen.count == 5)
        #expect(seen.allSatisfy { $0.services == .all && !$0.secure && $0.login == nil })
    }

    @Test func connectionCloseAndHTTP10EndTheConnectionAfterTheAnswer() throws {
        let broker = try startHTTPBroker()
        defer { broker.stop() }
        let closing = try HTTPTestConnection(port: broker.ports[1])
        try closing.send("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n")
        let answer = try #require(closing.readResponse())
        #expect(answer.header("Connection") == "close")
        #expect(closing.waitForClose())
        #expect(closing.unread.isEmpty)  // the request after it was not answered
        let old = try HTTPTestConnection(port: broker.ports[1])
        try old.send("GET /y HTTP/1.0\r\n\r\n")
        #expect(old.readResponse()?.text == "GET /y login=-")
        #expect(old.waitForClose())
    }

    @Test func malformedAndOversizedRequestsAreAnsweredWithTheirStatusAndClosed() throws {
        let broker = try startHTTPBroker { $0.httpLimits = HTTPLimits(maximumHeaderBytes: 1024, maximumBodyBytes: 100) }
        defer { broker.stop() }
        let cases: [(String, Int)] = [
            ("NOT A REQUEST\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\n\r\n", 505),
            ("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "a", count: 2000) + "\r\n\r\n", 431),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", 413),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        ]
        for (request, status) in cases {
            let connection = try HTTPTestConnection(port: broker.ports[1])
            try connection.send(request)
            let answer = try #require(connection.readResponse(), "no answer to \(request.prefix(30))")
            #expect(answer.status == status, "\(request.prefix(30))")
            #expect(answer.header("Connection") == "close")
            #expect(connection.waitForClose())
        }
        #expect(broker.statistics.protocolErrors == cases.count)
    }

    @Test func aRequestThatDoesNotComeWholeInTimeGets408AndAnIdleConnectionIsClosed() throws {
        let broker = try startHTTPBroker {
            $0.httpRequestTimeout = .milliseconds(300)
            $0.httpIdleTimeout = .milliseconds(300)
        }
        defer { broker.stop() }
        let trickling = try HTTPTestConnection(port: broker.ports[1])
        try trickling.send("GET /slow HTTP/1.1\r\nHost: h\r\n")
        #expect(trickling.readResponse()?.status == 408)
        #expect(trickling.waitForClose())
        let idle = try HTTPTestConnection(port: broker.ports[1])
        #expect(try idle.get("/")?.status == 200)
        #expect(idle.waitForClose())
        #expect(idle.unread.isEmpty)  // closed without a word: it asked for nothing more
    }

    @Test func withoutASiteAnythingButTheBrokersOwnPathsIsNotFound() throws {
        var configuration = BrokerConfiguration(listeners: [ListenerConfiguration(host: "127.0.0.1", port: 0, kind: .http([.webSocket]))])
        configuration.httpIdleTimeout = .seconds(5)
        let broker = try Broker.start(configuration)
        defer { broker.stop() }
        let connection = try HTTPTestConnection(port: broker.port)
        #expect(try connection.get("/metrics")?.status == 404)
        // Not a console listener: /login is the site's (none here).
        try connection.send("POST /login HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        #expect(connection.readResponse()?.status == 404)
    }

    @Test func theSiteIsToldWhetherAPasswordMayCrossTheConnection() throws {
        let site = EchoSite()
        let broker = try Broker.start(BrokerConfiguration(listeners: [
            ListenerConfiguration(host: "127.0.0.1", port: 0, kind: .http(.all)),
            ListenerConfiguration(host: "127.0.0.1", port: 0, insecure: true, kind: .http(.all)),
        ]), site: site)
        defer { broker.stop() }
        for (port, accepted) in [(broker.ports[0], false), (broker.ports[1], true)] {
            #expect(try HTTPTestConnection(port: port).get("/login")?.status == 200)
            #expect(site.contexts.withLock { $0.last?.passwordsAccepted } == accepted, "port \(port)")
        }
    }
}
