import Foundation
import Testing
import TestSupport

/// Upstream mode runs no broker for devices, but an operator still scrapes the box: an HTTP
/// listener serves `/metrics` (the upstream queues, buses and devices; no embedded-broker
/// families) and `/healthz`, and nothing else.
@Suite(.serialized) struct UpstreamMetricsTests {
    @Test func anHTTPListenerInUpstreamModeServesMetricsAndHealthOnly() async throws {
        let fixture = try UpstreamGatewayFixture(login: .plainPasswords, metricsListener: true)
        // `check` lists the listener with what it serves.
        let check = try ModbridgeProcess.run(["check", fixture.configFile])
        #expect(check.status == 0 && check.output.contains("  listener 127.0.0.1:\(fixture.localPort): /metrics and /healthz (HTTP)\n"), "\(check.output)")
        fixture.setCounter(7)
        let (consumer, inbox) = try await fixture.consumer(["plant/+/events"])
        try fixture.startGateway()
        for device in ["oven-1", "oven-2"] {
            let events = await GatewayFixture.message(in: inbox, on: "plant/\(device)/events") { $0["counter"] as? Int == 7 }
            #expect(events != nil, "no events of \(device) upstream; gateway log: \(fixture.log)")
        }
        await consumer.disconnect()

        let connection = try HTTPTestConnection(port: fixture.localPort)
        let page = try #require(try connection.get("/metrics"))
        #expect(page.status == 200 && page.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true, "\(page)")
        let folder = TemporaryFolder()
        let (types, samples) = try MetricsScrapeTests.parse(page.body, in: folder)
        for device in ["oven-1", "oven-2"] {
            // Both devices' links are up (each has its own connection) and their messages were acknowledged.
            #expect(samples[.init(name: "modbridge_upstream_connected", labels: ["connection": device])] == 1, "\(page.text)")
            #expect((samples[.init(name: "modbridge_upstream_acknowledged_total", labels: ["connection": device])] ?? 0) > 0, "\(page.text)")
            #expect(samples[.init(name: "modbridge_device_online", labels: ["device": device, "bus": "line", "unit": device == "oven-1" ? "1" : "2"])] == 1)
        }
        #expect((samples[.init(name: "modbridge_bus_transactions_total", labels: ["bus": "line"])] ?? 0) > 0)
        // No embedded broker carries devices here: its families would only say zero.
        #expect(!types.keys.contains { $0.hasPrefix("modbridge_broker_") }, "\(types.keys.sorted())")

        let health = try #require(try connection.get("/healthz"))
        #expect(health.status == 200 && health.text == "ok\n", "\(health)")
        // Nothing else: no console, no MQTT over WebSocket.
        for path in ["/", "/login", "/console.js", "/mqtt"] {
            #expect(try connection.get(path)?.status == 404, "\(path)")
        }
        #expect(fixture.stopGateway() == 0)
        #expect(fixture.log.contains("ports=\(fixture.localPort)"), "\(fixture.log)")
    }
}
