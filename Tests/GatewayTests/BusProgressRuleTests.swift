import GatewayCore
import Broker
import HTTP
import Modbus
import Testing

/// The `/healthz` rule over bus heartbeats, with instants the test sets: no threads, no waiting.
@Suite("Health: every bus thread made progress within its limit")
struct BusProgressRuleTests {
    @Test("The limit is three response timeouts, never less than 10 s")
    func limit() {
        #expect(BusProgressRule.limit(responseTimeout: .milliseconds(500)) == .seconds(10))
        #expect(BusProgressRule.limit(responseTimeout: .seconds(3)) == .seconds(10))
        #expect(BusProgressRule.limit(responseTimeout: .seconds(5)) == .seconds(15))
    }

    @Test("Buses within their limit are healthy; those past it are named, in id order, with how long since they progressed")
    func stalls() {
        let now = ContinuousClock.now
        let rule = BusProgressRule(buses: [
            .init(id: "west", lastProgress: now - .milliseconds(12_300), limit: .seconds(10)),
            .init(id: "north", lastProgress: now - .seconds(9), limit: .seconds(10)),
            .init(id: "east", lastProgress: now - .seconds(16), limit: .seconds(15)),
            .init(id: "south", lastProgress: now - .seconds(10), limit: .seconds(10)),
        ])
        let stalls = rule.stalls(at: now)
        #expect(stalls.map(\.bus) == ["east", "west"])
        #expect(stalls.map(\.since) == [.seconds(16), .milliseconds(12_300)])
        #expect(BusProgressRule.describe(stalls) == """
        bus east: no progress for 16 s (limit 15 s)
        bus west: no progress for 12.3 s (limit 10 s)
        """)
        // Later, the north bus too; earlier, none.
        #expect(rule.stalls(at: now + .seconds(2)).map(\.bus) == ["east", "north", "south", "west"])
        #expect(rule.stalls(at: now - .seconds(4)).isEmpty)
        #expect(BusProgressRule.describe([]) == nil)
        #expect(BusProgressRule(buses: []).stalls(at: now).isEmpty)
    }

    @Test("/healthz answers 200 ok with no stalled bus, 503 naming the stalled ones otherwise")
    func answers() {
        let now = ContinuousClock.now
        let links = DeviceLinkBoard()
        let endpoints = OperationsEndpoints(links: links, brokerStatistics: nil)
        #expect(endpoints.health() == .text(.ok, "ok\n"))
        var status = BusStatus()
        status.lastProgress = now
        links.attach(bus: "line", progressLimit: .seconds(10)) { [status] in status }
        #expect(endpoints.health().status == .ok)
        var stuck = BusStatus()
        stuck.lastProgress = now - .seconds(60)
        links.attach(bus: "stuck", progressLimit: .seconds(10)) { [stuck] in stuck }
        let answer = endpoints.health()
        #expect(answer.status == .serviceUnavailable)
        #expect(answer.headers["Content-Type"] == "text/plain; charset=utf-8")
        let body = String(decoding: answer.body, as: UTF8.self)
        #expect(body.hasPrefix("stalled\nbus stuck: no progress for 60"))
        #expect(!body.contains("bus line"))
        links.detach(bus: "stuck")
        #expect(endpoints.health().status == .ok)
        // A broker listener that cannot accept (descriptors exhausted) fails it too.
        var statistics = BrokerStatistics()
        statistics.listenersNotAccepting = 1
        let refusing = OperationsEndpoints(links: links, brokerStatistics: { [statistics] in statistics },
                                           listenersNotAccepting: { [statistics] in statistics.listenersNotAccepting })
        let refused = refusing.health()
        #expect(refused.status == .serviceUnavailable)
        #expect(String(decoding: refused.body, as: UTF8.self) == "stalled\nbroker: 1 listener(s) not accepting connections (accept failed: descriptors exhausted?)\n")
    }
}
