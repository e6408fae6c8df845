import Broker
import GatewayCore
import Modbus
import Testing

/// The text exposition writer and the gateway's metric page, as exact text.
@Suite("Prometheus text: writer and the gateway's families")
struct PrometheusTextTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("HELP, TYPE and samples of a family, label values escaped, numbers as the format spells them")
    func writerExactText() {
        var writer = PrometheusText()
        writer.family("modbridge_test_total", .counter, help: "A help text with a \\ backslash,\na line feed and \"quotes\".")
        writer.sample(["bus": #"a\b"c"#, "unit": "line\nfeed"], 3)
        writer.sample([:], 0)
        writer.family("modbridge_test_seconds", .gauge, help: "Seconds.")
        writer.sample(["bus": "x"], seconds: .milliseconds(1500))
        writer.sample(["bus": "y"], 2.0)
        writer.sample(["bus": "z"], Double.nan)
        writer.sample(["bus": "inf"], Double.infinity)
        writer.sample(["bus": "-inf"], -Double.infinity)
        #expect(Self.text(writer.bytes) == #"""
        # HELP modbridge_test_total A help text with a \\ backslash,\na line feed and "quotes".
        # TYPE modbridge_test_total counter
        modbridge_test_total{bus="a\\b\"c",unit="line\nfeed"} 3
        modbridge_test_total 0
        # HELP modbridge_test_seconds Seconds.
        # TYPE modbridge_test_seconds gauge
        modbridge_test_seconds{bus="x"} 1.5
        modbridge_test_seconds{bus="y"} 2
        modbridge_test_seconds{bus="z"} NaN
        modbridge_test_seconds{bus="inf"} +Inf
        modbridge_test_seconds{bus="-inf"} -Inf

        """#)
    }

    @Test("A family started twice is written once: its second start and samples are left out")
    func familyOnce() {
        var writer = PrometheusText()
        writer.family("modbridge_a", .gauge, help: "A.")
        writer.sample([:], 1)
        writer.family("modbridge_b", .gauge, help: "B.")
        writer.sample([:], 2)
        writer.family("modbridge_a", .gauge, help: "A again.")
        writer.sample([:], 3)
        #expect(Self.text(writer.bytes) == """
        # HELP modbridge_a A.
        # TYPE modbridge_a gauge
        modbridge_a 1
        # HELP modbridge_b B.
        # TYPE modbridge_b gauge
        modbridge_b 2

        """)
    }

    /// Two buses, two devices, a broker and an upstream connection, at a fixed instant.
    static func metrics() -> GatewayMetrics {
        let now = ContinuousClock.now
        var north = BusStatus()
        north.isOpen = true
        north.opens = 3
        north.transactions = 120
        north.failures = 9
        north.timeouts = 4
        north.crcErrors = 2
        north.framingErrors = 1
        north.exceptions = [6: 1, 2: 1]
        north.strayBytes = 7
        north.lastProgress = now - .milliseconds(250)
        var south = BusStatus()
        south.lastProgress = now - .seconds(12)
        var server = BusServerStatus()
        server.connections = 1
        server.requests = 5
        server.refusedRequests = 1
        var broker = BrokerStatistics()
        broker.connections = 2
        broker.messagesReceived = 40
        broker.loginsRefused = 1
        var queue = UpstreamQueueStatus()
        queue.connected = true
        queue.depth = 3
        queue.bytes = 300
        queue.oldestEnqueuedAt = 1_000_000
        queue.dropped = 1
        queue.sent = 10
        queue.acknowledged = 7
        return GatewayMetrics(
            buses: [GatewayMetrics.BusMetrics(id: "south", status: south, progressLimit: .seconds(10)),
                    GatewayMetrics.BusMetrics(id: "north", status: north, progressLimit: .seconds(15),
                                              cycle: DeviceLinkBoard.BusCycle(measured: .milliseconds(42), predicted: .milliseconds(40)),
                                              server: server)],
            devices: [GatewayMetrics.DeviceMetrics(id: "pump-\"2\"", link: DeviceLinkBoard.Link(bus: "south", unit: 2, state: "offline")),
                      GatewayMetrics.DeviceMetrics(id: "oven-1", link: DeviceLinkBoard.Link(bus: "north", unit: 1, state: "online",
                                                                                            lastAnswer: now - .milliseconds(500),
                                                                                            writesOK: 3, writesFailed: 1))],
            broker: broker, upstream: [GatewayMetrics.UpstreamMetrics(connection: "shared", status: queue)],
            now: now, wallClockMilliseconds: 1_002_500)
    }

    @Test("The gateway's page: families grouped in order, buses and devices sorted, no sample without a value")
    func gatewayPage() {
        let page = Self.text(Self.metrics().render())
        let lines = page.split(separator: "\n").map(String.init)
        // Every family once, HELP then TYPE, its samples right after it.
        var families: [String] = []
        var current = ""
        for line in lines {
            if line.hasPrefix("# HELP ") {
                current = String(line.dropFirst(7).prefix { $0 != " " })
                #expect(!families.contains(current), "family \(current) twice")
                families.append(current)
            } else if line.hasPrefix("# TYPE ") {
                #expect(line.hasPrefix("# TYPE \(current) "))
                #expect(line.hasSuffix(current.hasSuffix("_total") ? " counter" : " gauge"))
            } else {
                #expect(line.hasPrefix(current + "{") || line.hasPrefix(current + " "), "\(line) outside its family \(current)")
            }
        }
        // No series twice.
        let series = lines.filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != " " }) }
        #expect(Set(series).count == series.count)
        for expected in [
            #"modbridge_bus_line_open{bus="north"} 1"#, #"modbridge_bus_line_open{bus="south"} 0"#,
            #"modbridge_bus_line_reopens_total{bus="north"} 2"#, #"modbridge_bus_line_reopens_total{bus="south"} 0"#,
            #"modbridge_bus_transactions_total{bus="north"} 120"#, #"modbridge_bus_failures_total{bus="north"} 9"#,
            #"modbridge_bus_timeouts_total{bus="north"} 4"#, #"modbridge_bus_crc_errors_total{bus="north"} 2"#,
            #"modbridge_bus_framing_errors_total{bus="north"} 1"#,
            #"modbridge_bus_exceptions_total{bus="north",code="2"} 1"#, #"modbridge_bus_exceptions_total{bus="north",code="6"} 1"#,
            #"modbridge_bus_stray_bytes_total{bus="north"} 7"#,
            #"modbridge_bus_cycle_seconds{bus="north"} 0.042"#, #"modbridge_bus_cycle_predicted_seconds{bus="north"} 0.04"#,
            #"modbridge_bus_progress_age_seconds{bus="north"} 0.25"#, #"modbridge_bus_progress_age_seconds{bus="south"} 12"#,
            #"modbridge_bus_progress_limit_seconds{bus="north"} 15"#,
            #"modbridge_bus_server_clients{bus="north"} 1"#, #"modbridge_bus_server_requests_total{bus="north"} 5"#,
            #"modbridge_bus_server_refused_requests_total{bus="north"} 1"#,
            #"modbridge_device_online{device="oven-1",bus="north",unit="1"} 1"#,
            #"modbridge_device_online{device="pump-\"2\"",bus="south",unit="2"} 0"#,
            #"modbridge_device_last_answer_age_seconds{device="oven-1",bus="north",unit="1"} 0.5"#,
            #"modbridge_device_writes_total{device="oven-1",bus="north",unit="1",result="ok"} 3"#,
            #"modbridge_device_writes_total{device="oven-1",bus="north",unit="1",result="failed"} 1"#,
            "modbridge_broker_connections 2", "modbridge_broker_messages_received_total 40", "modbridge_broker_logins_refused_total 1",
            #"modbridge_upstream_connected{connection="shared"} 1"#, #"modbridge_upstream_queue_messages{connection="shared"} 3"#,
            #"modbridge_upstream_queue_bytes{connection="shared"} 300"#,
            #"modbridge_upstream_queue_oldest_age_seconds{connection="shared"} 2.5"#,
            #"modbridge_upstream_queue_dropped_total{connection="shared"} 1"#, #"modbridge_upstream_acknowledged_total{connection="shared"} 7"#,
        ] {
            #expect(lines.contains(expected), "missing: \(expected)")
        }
        // Buses in id order; a device never heard from has no answer age; the south bus has no cycle yet.
        let open = lines.filter { $0.hasPrefix("modbridge_bus_line_open{") }
        #expect(open == [#"modbridge_bus_line_open{bus="north"} 1"#, #"modbridge_bus_line_open{bus="south"} 0"#])
        #expect(!page.contains(#"modbridge_device_last_answer_age_seconds{device="pump"#))
        #expect(!page.contains(#"modbridge_bus_cycle_seconds{bus="south"}"#))
        #expect(!page.contains(#"modbridge_bus_server_clients{bus="south"}"#))
    }

    @Test("Without a broker and an upstream, their families are left out")
    func withoutBrokerAndUpstream() {
        var metrics = Self.metrics()
        metrics.broker = nil
        metrics.upstream = []
        let page = Self.text(metrics.render())
        #expect(!page.contains("modbridge_broker_"))
        #expect(!page.contains("modbridge_upstream_"))
        #expect(page.contains("modbridge_bus_transactions_total"))
    }
}
