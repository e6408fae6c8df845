import MQTT
import MQTTClient
import TLS
import Testing

/// One upstream link's life without sockets: a scripted server's bytes and instants in, the
/// packets written and the source's calls checked.
@Suite("The upstream link machine, time moved by the test")
struct LinkMachineTests {
    let start = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    static let commands = Subscription(filter: "plant/oven/commands/#", qos: .atLeastOnce)

    func configuration(inFlight: Int = 3, keepAlive: UInt16 = 0, jitter: Double = 0, tls: TLSContext? = nil) -> UpstreamLinkConfiguration {
        UpstreamLinkConfiguration(name: "oven", host: "broker.test", port: 8883, tls: tls,
                                  connect: Connect(clientIdentifier: "oven", cleanSession: false, keepAlive: keepAlive, username: "oven"),
                                  subscriptions: [Self.commands], reconnect: ReconnectPolicy(jitter: jitter), maximumInFlight: inFlight)
    }

    /// The packet identifiers of the PUBLISH packets in `packets`, and their payloads.
    func publishes(_ packets: [MQTTPacket]) -> [(id: UInt16, payload: String)] {
        packets.compactMap { packet in
            guard case let .publish(publish) = packet else { return nil }
            return (publish.packetIdentifier ?? 0, String(decoding: publish.payload, as: UTF8.self))
        }
    }

    /// Up to CONNACK accepted and the SUBACK: the harness with the packets written so far taken.
    func connected(_ harness: inout LinkHarness, at now: ContinuousClock.Instant, first: Bool = true) throws -> [MQTTPacket] {
        harness.reachTransport(at: now, first: first)
        let connect = harness.takeWritten()
        guard case .connect? = connect.first else { throw LinkTestError.unexpected("no CONNECT: \(connect)") }
        try harness.serverSends([.connectAcknowledgement(.init(sessionPresent: false, returnCode: .accepted))], at: now)
        let afterLogin = harness.takeWritten()
        guard case let .subscribe(subscribe)? = afterLogin.first else { throw LinkTestError.unexpected("no SUBSCRIBE: \(afterLogin)") }
        try harness.serverSends([.subscribeAcknowledgement(.init(packetIdentifier: subscribe.packetIdentifier, returnCodes: [.granted(.atLeastOnce)]))], at: now)
        return afterLogin
    }

    @Test("CONNECT, CONNACK, SUBSCRIBE, then messages pulled up to maximumInFlight; each PUBACK acknowledges its token and frees room")
    func publishFlow() throws {
        let source = ScriptedSource(outbound(7))
        var harness = LinkHarness(configuration(inFlight: 3), source: source)
        harness.run(harness.machine.start(at: at(0)), at: at(0))
        #expect(harness.resolves == ["broker.test"])
        #expect(harness.tick == at(10))  // the connect deadline
        harness.run(harness.machine.resolved(["10.0.0.1", "10.0.0.2"], at: at(0.1)), at: at(0.1))
        #expect(harness.connects == ["10.0.0.1"])
        harness.run(harness.machine.transportConnected(at: at(0.2)), at: at(0.2))
        #expect(harness.takeWritten() == [.connect(Connect(clientIdentifier: "oven", cleanSession: false, keepAlive: 0, username: "oven"))])

        try harness.serverSends([.connectAcknowledgement(.init(sessionPresent: true, returnCode: .accepted))], at: at(0.3))
        #expect(source.ups == [true])
        #expect(harness.logs.last?.event == "upstream_connected")
        #expect(harness.logs.last?["session_present"] == "true" && harness.logs.last?["tls"] == "none")
        let afterLogin = harness.takeWritten()
        #expect(afterLogin.first == .subscribe(Subscribe(packetIdentifier: 1, subscriptions: [Self.commands])))
        // maximumInFlight 3: three of seven, in order.
        #expect(publishes(afterLogin).map(\.payload) == ["m1", "m2", "m3"])
        #expect(source.limitsAsked == [3])

        try harness.serverSends([.subscribeAcknowledgement(.init(packetIdentifier: 1, returnCodes: [.granted(.atLeastOnce)])),
                                 .publishAcknowledgement(packetIdentifier: publishes(afterLogin)[0].id)], at: at(0.4))
        #expect(source.acknowledgedTokens == [1])
        #expect(publishes(harness.takeWritten()).map(\.payload) == ["m4"])
        // Two PUBACKs in one read: one pull for both.
        try harness.serverSends([.publishAcknowledgement(packetIdentifier: publishes(afterLogin)[1].id),
                                 .publishAcknowledgement(packetIdentifier: publishes(afterLogin)[2].id)], at: at(0.5))
        #expect(source.acknowledgedTokens == [1, 2, 3])
        #expect(publishes(harness.takeWritten()).map(\.payload) == ["m5", "m6"])
        #expect(source.limitsAsked == [3, 1, 2])
        #expect(source.handedOut.map(\.token) == [4, 5, 6])
    }

    @Test("A SUBACK refusing a filter is told to the source and logged")
    func subscriptionRefused() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(), source: source)
        harness.reachTransport(at: at(0), first: true)
        try harness.serverSends([.connectAcknowledgement(.init(sessionPresent: false, returnCode: .accepted))], at: at(1))
        try harness.serverSends([.subscribeAcknowledgement(.init(packetIdentifier: 1, returnCodes: [.failure]))], at: at(1))
        #expect(source.refusedFilters == ["plant/oven/commands/#"])
        #expect(harness.logs.contains { $0.event == "upstream_subscription_refused" && $0.level == .error })
    }

    @Test("A drop mid-flight: linkDown, delays doubling to the cap; after the reconnect it subscribes again and resends what was not acknowledged")
    func dropAndBackoff() throws {
        let source = ScriptedSource(outbound(5))
        var harness = LinkHarness(configuration(inFlight: 3), source: source)
        let first = try connected(&harness, at: at(0))
        #expect(publishes(first).map(\.payload) == ["m1", "m2", "m3"])
        try harness.serverSends([.publishAcknowledgement(packetIdentifier: publishes(first)[0].id)], at: at(1))
        _ = harness.takeWritten()

        harness.run(harness.machine.transportFailed("broker.test:8883 closed the connection", at: at(2)), at: at(2))
        #expect(source.downs.count == 1)
        #expect(source.downs[0].error == .connectionClosed("broker.test:8883 closed the connection"))
        #expect(harness.logs.last?.event == "upstream_disconnected" && harness.logs.last?.level == .error)
        // The connection had a PUBACK: healthy, so the first delay is the initial one.
        #expect(source.downs[0].retryAt == at(3))
        #expect(harness.tick == at(3))
        #expect(source.pending.map(\.token) == [2, 3, 4, 5])

        // Attempts that fail: 1 s (above), then 2, 4, 8, 16, 32, 60, 60 (jitter 0 here).
        var now = at(3)
        var delays: [Duration] = []
        for _ in 0..<7 {
            harness.run(harness.machine.tick(at: now), at: now)
            #expect(harness.resolves.last == "broker.test")
            harness.run(harness.machine.resolutionFailed("Name or service not known", at: now), at: now)
            let down = try #require(source.downs.last)
            delays.append(now.duration(to: down.retryAt))
            now = down.retryAt
        }
        #expect(delays == [2, 4, 8, 16, 32, 60, 60].map { .seconds($0) })
        #expect(source.downs.last?.error == .connectionFailed("DNS: cannot resolve broker.test: Name or service not known"))
        #expect(harness.logs.last?.event == "upstream_connect_failed")
        #expect(harness.logs.last?["retry_in_ms"] == "60000")
        // A tick before the retry only asks for the retry's tick again.
        #expect(harness.machine.tick(at: now.advanced(by: .seconds(-1))) == [.scheduleTick(at: now)])

        let again = try connected(&harness, at: now, first: false)
        #expect(again.first == .subscribe(Subscribe(packetIdentifier: again.first.flatMap { if case let .subscribe(s) = $0 { s.packetIdentifier } else { nil } } ?? 0,
                                                    subscriptions: [Self.commands])))
        #expect(publishes(again).map(\.payload) == ["m2", "m3", "m4"])
        #expect(source.ups.count == 2)
    }

    @Test("Jitter keeps each delay within ± the fraction of its base, the same for the same seed")
    func jitter() throws {
        func delays(seed: UInt64) throws -> [Duration] {
            let source = ScriptedSource()
            var harness = LinkHarness(configuration(jitter: 0.25), source: source, seed: seed)
            var now = at(0)
            harness.run(harness.machine.start(at: now), at: now)
            var delays: [Duration] = []
            for _ in 0..<9 {
                harness.run(harness.machine.resolved(["127.0.0.1"], at: now), at: now)
                harness.run(harness.machine.transportFailed("connection refused by 127.0.0.1:8883", at: now), at: now)
                let down = try #require(source.downs.last)
                delays.append(now.duration(to: down.retryAt))
                now = down.retryAt
                harness.run(harness.machine.tick(at: now), at: now)
            }
            return delays
        }
        let first = try delays(seed: 1)
        #expect(first == (try delays(seed: 1)))
        #expect(first != (try delays(seed: 2)))
        for (delay, base) in zip(first, [1, 2, 4, 8, 16, 32, 60, 60, 60]) {
            #expect(delay >= .milliseconds(base * 750) && delay <= .milliseconds(base * 1250), "\(delay) for a base of \(base) s")
        }
    }

    @Test("CONNACK 5: linkDown with 'not authorized', logged as an error, and a backoff delay before the next attempt")
    func refusedLogin() throws {
        let source = ScriptedSource(outbound(2))
        var harness = LinkHarness(configuration(), source: source)
        var now = at(0)
        for attempt in 0..<3 {
            harness.reachTransport(at: now, first: attempt == 0)
            #expect(harness.takeWritten().count == 1)  // CONNECT, nothing more before CONNACK
            try harness.serverSends([.connectAcknowledgement(.init(sessionPresent: false, returnCode: .notAuthorized))], at: now)
            let down = try #require(source.downs.last)
            #expect(down.error == .connectionRefused(.notAuthorized))
            #expect(now.duration(to: down.retryAt) == .seconds(1 << attempt))
            #expect(harness.logs.last?["error"] == "CONNACK 5: not authorized")
            #expect(harness.closes.last == false)
            now = down.retryAt
        }
        #expect(source.ups.isEmpty && source.limitsAsked.isEmpty)
        #expect(MQTTError.connectionRefused(.badUsernameOrPassword).upstreamReason == "CONNACK 4: bad user name or password")
    }

    @Test("An incoming QoS 1 PUBLISH goes to the source and is answered with PUBACK")
    func incomingPublish() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(), source: source)
        _ = try connected(&harness, at: at(0))
        let command = Publish(topic: "plant/oven/commands/set", payload: Array("{\"id\":1}".utf8), qos: .atLeastOnce, packetIdentifier: 77)
        try harness.serverSends([.publish(command)], at: at(1))
        #expect(source.receivedMessages == [command])
        #expect(harness.takeWritten() == [.publishAcknowledgement(packetIdentifier: 77)])
    }

    @Test("Keep-alive: PINGREQ after an idle interval; no PINGRESP within the next one takes the link down")
    func keepAlive() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(keepAlive: 5), source: source)
        _ = try connected(&harness, at: at(0))
        #expect(harness.tick == at(5))
        harness.run(harness.machine.tick(at: at(5)), at: at(5))
        #expect(harness.takeWritten() == [.pingRequest])
        try harness.serverSends([.pingResponse], at: at(6))
        harness.run(harness.machine.tick(at: at(10)), at: at(10))
        #expect(harness.takeWritten() == [.pingRequest])
        harness.run(harness.machine.tick(at: at(15)), at: at(15))
        #expect(source.downs.last?.error == .timedOut("no PINGRESP from broker.test:8883 within the keep-alive"))
        #expect(harness.closes.last == false)
    }

    @Test("TLS: the handshake is asked for with the server name; its failure is a connect failure with the reason, backed off")
    func tlsFailure() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(tls: try TLSContext.client(TLSConfiguration())), source: source)
        harness.run(harness.machine.start(at: at(0)), at: at(0))
        harness.run(harness.machine.resolved(["127.0.0.1"], at: at(0)), at: at(0))
        harness.run(harness.machine.transportConnected(at: at(0)), at: at(0))
        #expect(harness.tlsStarts == ["broker.test"])
        #expect(harness.takeWritten().isEmpty)  // no CONNECT before the handshake
        let reason = "TLS handshake failed: certificate verify failed; certificate verification: unable to get local issuer certificate"
        harness.run(harness.machine.transportFailed(reason, at: at(1)), at: at(1))
        #expect(source.downs.last?.error == .connectionFailed(reason))
        #expect(harness.logs.last?["error"] == reason)
        #expect(source.downs.last?.retryAt == at(2))

        harness.run(harness.machine.tick(at: at(2)), at: at(2))
        harness.run(harness.machine.resolved(["127.0.0.1"], at: at(2)), at: at(2))
        harness.run(harness.machine.transportConnected(at: at(2)), at: at(2))
        harness.run(harness.machine.transportSecured(version: "TLSv1.3", at: at(2)), at: at(2))
        guard case .connect? = harness.takeWritten().first else { Issue.record("no CONNECT after the handshake"); return }
        try harness.serverSends([.connectAcknowledgement(.init(sessionPresent: false, returnCode: .accepted))], at: at(2))
        #expect(harness.logs.last { $0.event == "upstream_connected" }?["tls"] == "TLSv1.3")
    }

    @Test("Connect timeouts and addresses tried in turn")
    func timeoutsAndAddresses() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(), source: source)
        harness.run(harness.machine.start(at: at(0)), at: at(0))
        harness.run(harness.machine.tick(at: at(10)), at: at(10))
        #expect(source.downs.last?.error == .timedOut("DNS: no address for broker.test within 10.0 seconds"))
        harness.run(harness.machine.tick(at: at(11)), at: at(11))
        harness.run(harness.machine.resolved(["::1", "127.0.0.1"], at: at(11)), at: at(11))
        harness.run(harness.machine.transportFailed("connection refused by [::1]:8883", at: at(11)), at: at(11))
        #expect(harness.connects == ["::1", "127.0.0.1"])
        #expect(source.downs.count == 1)
        harness.run(harness.machine.tick(at: at(21)), at: at(21))
        #expect(source.downs.last?.error == .timedOut("no TCP connection to broker.test:8883 within 10.0 seconds"))
        #expect(harness.closes.last == false)
    }

    @Test("A connection that stayed up 30 s without acknowledgements also resets the delay; a short one does not")
    func healthyReset() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(), source: source)
        _ = try connected(&harness, at: at(0))
        harness.run(harness.machine.transportFailed("gone", at: at(5)), at: at(5))
        #expect(source.downs.last.map { at(5).duration(to: $0.retryAt) } == .seconds(1))
        _ = try connected(&harness, at: at(6), first: false)
        harness.run(harness.machine.transportFailed("gone", at: at(7)), at: at(7))
        #expect(source.downs.last.map { at(7).duration(to: $0.retryAt) } == .seconds(2))
        _ = try connected(&harness, at: at(9), first: false)
        harness.run(harness.machine.transportFailed("gone", at: at(40)), at: at(40))
        #expect(source.downs.last.map { at(40).duration(to: $0.retryAt) } == .seconds(1))
    }

    @Test("Removing a connected link sends DISCONNECT, closes after the write, and tells the source nothing more")
    func remove() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(), source: source)
        _ = try connected(&harness, at: at(0))
        harness.run(harness.machine.remove(at: at(1)), at: at(1))
        #expect(harness.takeWritten() == [.disconnect])
        #expect(harness.closes.last == true)
        #expect(source.downs.isEmpty)
        #expect(harness.tick == nil)
        #expect(harness.machine.tick(at: at(100)).isEmpty && harness.machine.wake(at: at(100)).isEmpty)
    }

    @Test("wake asks the source again; a source with nothing is not asked until woken or acknowledged")
    func wake() throws {
        let source = ScriptedSource()
        var harness = LinkHarness(configuration(), source: source)
        _ = try connected(&harness, at: at(0))
        #expect(source.limitsAsked == [3])
        harness.run(harness.machine.tick(at: at(1)), at: at(1))
        #expect(source.limitsAsked == [3])
        source.pending = outbound(1, from: 9)
        harness.run(harness.machine.wake(at: at(2)), at: at(2))
        #expect(publishes(harness.takeWritten()).map(\.payload) == ["m9"])
    }
}

enum LinkTestError: Error {
    case unexpected(String)
}
