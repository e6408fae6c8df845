import Broker
import Modbus
import POSIX

/// The metric families of `/metrics` (docs/monitoring.md lists them): names `modbridge_...`,
/// units in the name, counters ending in `_total`; a sample that has no value yet (a cycle not
/// measured, a device never heard) is left out rather than shown as 0.
extension GatewayMetrics {
    /// The page in the Prometheus text exposition format 0.0.4.
    package func render() -> [UInt8] {
        var text = PrometheusText(capacity: 2048 + buses.count * 1500 + devices.count * 600 + upstream.count * 600)
        renderBuses(into: &text)
        renderDevices(into: &text)
        if let broker { renderBroker(broker, into: &text) }
        renderUpstream(into: &text)
        renderProcess(into: &text)
        return text.bytes
    }

    /// The version, and the process families under the names Prometheus's own client libraries
    /// give them, so that existing dashboards and alerts (memory, descriptors) work unchanged.
    private func renderProcess(into text: inout PrometheusText) {
        text.family("modbridge_build_info", .gauge, help: "Always 1; the label says which modbridge this is.")
        text.sample(["version": ModbridgeVersion.current], 1)
        guard let process else { return }
        text.family("process_cpu_seconds_total", .counter, help: "User and system CPU time spent, in seconds.", value: process.cpuSeconds)
        text.family("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.", value: process.residentBytes)
        text.family("process_virtual_memory_bytes", .gauge, help: "Virtual memory size in bytes.", value: process.virtualBytes)
        text.family("process_start_time_seconds", .gauge, help: "Start time of the process since the Unix epoch, in seconds.",
                    value: process.startTimeSeconds)
        text.family("process_threads", .gauge, help: "Threads of the process (each bus has its own).", value: process.threads)
        if let open = process.openDescriptors {
            text.family("process_open_fds", .gauge, help: "Open file descriptors.", value: open)
        }
        if let maximum = process.maximumDescriptors {
            text.family("process_max_fds", .gauge, help: "The most open file descriptors allowed (RLIMIT_NOFILE).", value: maximum)
        }
    }

    private func renderBuses(into text: inout PrometheusText) {
        // Each bus's label set, escaped once rather than in every family.
        let labels = buses.map { PrometheusText.labels(["bus": $0.id]) }
        let statuses = buses.map(\.status)
        func each(_ name: String, _ type: PrometheusText.MetricType, _ help: String, _ value: (BusStatus) -> Int) {
            text.family(name, type, help: help, labels: labels, items: statuses, value: value)
        }
        each("modbridge_bus_line_open", .gauge, "1 while the bus's line is open, 0 while it is closed and being reopened.") { $0.isOpen ? 1 : 0 }
        each("modbridge_bus_line_reopens_total", .counter, "Times the line was opened again after a failure.") { $0.reopens }
        each("modbridge_bus_transactions_total", .counter, "Modbus transactions sent on the line.") { $0.transactions }
        each("modbridge_bus_failures_total", .counter, "Transactions that failed, of any kind (exceptions included).") { $0.failures }
        each("modbridge_bus_timeouts_total", .counter, "Transactions that got no answer within the response timeout.") { $0.timeouts }
        each("modbridge_bus_crc_errors_total", .counter, "Answers whose CRC did not match.") { $0.crcErrors }
        each("modbridge_bus_framing_errors_total", .counter, "Other broken answers: LRC mismatch, wrong length, wrong unit or function.") { $0.framingErrors }
        text.family("modbridge_bus_exceptions_total", .counter, help: "Modbus exception answers, by exception code (decimal).")
        for (index, bus) in buses.enumerated() where !bus.status.exceptions.isEmpty {
            for (code, count) in bus.status.exceptions.sorted(by: { $0.key < $1.key }) {
                text.sample(labels[index], "code", String(code), count)
            }
        }
        each("modbridge_bus_stray_bytes_total", .counter, "Bytes read that belonged to no answer.") { $0.strayBytes }
        text.family("modbridge_bus_cycle_seconds", .gauge, help: "The measured poll cycle: every poll group's last complete round, summed.")
        for (index, bus) in buses.enumerated() {
            if let measured = bus.cycle?.measured { text.sample(labels[index], seconds: measured) }
        }
        text.family("modbridge_bus_cycle_predicted_seconds", .gauge, help: "The poll cycle predicted from the line's settings (serial lines only).")
        for (index, bus) in buses.enumerated() {
            if let predicted = bus.cycle?.predicted { text.sample(labels[index], seconds: predicted) }
        }
        text.family("modbridge_bus_progress_age_seconds", .gauge, help: "Since the bus thread last made progress (a loop turn or a transaction).")
        for (index, bus) in buses.enumerated() { text.sample(labels[index], seconds: max(.zero, bus.status.lastProgress.duration(to: now))) }
        text.family("modbridge_bus_progress_limit_seconds", .gauge, help: "How long the bus thread may go without progress before /healthz fails.")
        for (index, bus) in buses.enumerated() { text.sample(labels[index], seconds: bus.progressLimit) }
        renderServers(into: &text)
    }

    /// A bus's Modbus TCP server (docs/shared-bus.md), for the buses that have one.
    private func renderServers(into text: inout PrometheusText) {
        let served = buses.compactMap { bus in bus.server.map { (bus.id, $0) } }
        guard !served.isEmpty else { return }
        let labels = served.map { PrometheusText.labels(["bus": $0.0]) }
        let servers = served.map(\.1)
        func each(_ name: String, _ type: PrometheusText.MetricType, _ help: String, _ value: (BusServerStatus) -> Int) {
            text.family(name, type, help: help, labels: labels, items: servers, value: value)
        }
        each("modbridge_bus_server_clients", .gauge, "Clients connected to the bus's Modbus TCP server.") { $0.connections }
        each("modbridge_bus_server_requests_total", .counter, "Requests the bus's Modbus TCP server received.") { $0.requests }
        each("modbridge_bus_server_refused_requests_total", .counter, "Requests the server answered with an exception without reaching the bus.") { $0.refusedRequests }
    }

    private func renderDevices(into text: inout PrometheusText) {
        // Each device's label set, escaped once rather than in every family.
        let labels = devices.map { PrometheusText.labels(["device": $0.id, "bus": $0.link.bus, "unit": String($0.link.unit)]) }
        text.family("modbridge_device_online", .gauge, help: "1 while the device answers, 0 while it is offline or not heard from yet.")
        // By index, reading fields in place: no copy (and retain) of each device's strings per family.
        for index in devices.indices { text.sample(labels[index], devices[index].link.state == "online" ? 1 : 0) }
        text.family("modbridge_device_last_answer_age_seconds", .gauge, help: "Since the device last answered (an exception is an answer).")
        for index in devices.indices {
            guard let lastAnswer = devices[index].link.lastAnswer else { continue }
            text.sample(labels[index], seconds: max(.zero, lastAnswer.duration(to: now)))
        }
        text.family("modbridge_device_writes_total", .counter, help: "Commands and configs acknowledged on events/ack, by result (ok or failed).")
        for index in devices.indices {
            text.sample(labels[index], "result", "ok", devices[index].link.writesOK)
            text.sample(labels[index], "result", "failed", devices[index].link.writesFailed)
        }
    }

    private func renderBroker(_ broker: BrokerStatistics, into text: inout PrometheusText) {
        func one(_ name: String, _ type: PrometheusText.MetricType, _ help: String, _ value: Int) {
            text.family(name, type, help: help, value: value)
        }
        one("modbridge_broker_connections", .gauge, "MQTT connections open now.", broker.connections)
        one("modbridge_broker_listeners_not_accepting", .gauge, "Listeners whose accept failed (descriptors exhausted), waiting to accept again.",
            broker.listenersNotAccepting)
        one("modbridge_broker_sessions", .gauge, "MQTT sessions held (connected or persistent).", broker.sessions)
        one("modbridge_broker_subscriptions", .gauge, "Subscriptions held.", broker.subscriptions)
        one("modbridge_broker_retained_messages", .gauge, "Retained messages held.", broker.retainedMessages)
        one("modbridge_broker_messages_received_total", .counter, "PUBLISH packets accepted.", broker.messagesReceived)
        one("modbridge_broker_messages_delivered_total", .counter, "Messages handed to a connection or an in-process client.", broker.messagesDelivered)
        one("modbridge_broker_messages_dropped_total", .counter, "Messages dropped for a full queue or buffer, or a QoS 0 message for an offline session.", broker.messagesDropped)
        one("modbridge_broker_slow_consumers_disconnected_total", .counter, "Clients disconnected for not reading what was sent to them.", broker.slowConsumersDisconnected)
        one("modbridge_broker_protocol_errors_total", .counter, "Connections closed for breaking the MQTT rules.", broker.protocolErrors)
        one("modbridge_broker_storage_errors_total", .counter, "Storage writes that failed.", broker.storageErrors)
        one("modbridge_broker_logins_refused_total", .counter, "CONNECTs refused by the registry policy.", broker.loginsRefused)
        one("modbridge_broker_publishes_denied_total", .counter, "PUBLISH packets to a topic the client may not use.", broker.publishesDenied)
        one("modbridge_broker_subscriptions_denied_total", .counter, "SUBSCRIBE filters refused.", broker.subscriptionsDenied)
        one("modbridge_broker_tls_handshakes_failed_total", .counter, "TLS handshakes that failed or did not finish in time.", broker.tlsHandshakesFailed)
    }

    private func renderUpstream(into text: inout PrometheusText) {
        guard !upstream.isEmpty else { return }
        // One connection per device in `per-device` style: label sets escaped once.
        let labels = upstream.map { PrometheusText.labels(["connection": $0.connection]) }
        let statuses = upstream.map(\.status)
        func each(_ name: String, _ type: PrometheusText.MetricType, _ help: String, _ value: (UpstreamQueueStatus) -> Int) {
            text.family(name, type, help: help, labels: labels, items: statuses, value: value)
        }
        each("modbridge_upstream_connected", .gauge, "1 while the upstream link is up (CONNACK accepted).") { $0.connected ? 1 : 0 }
        each("modbridge_upstream_queue_messages", .gauge, "Messages queued and not yet acknowledged by the upstream broker.") { $0.depth }
        each("modbridge_upstream_queue_bytes", .gauge, "Bytes of the queue's files.") { $0.bytes }
        text.family("modbridge_upstream_queue_oldest_age_seconds", .gauge, help: "Since the oldest unacknowledged message was queued.")
        for (index, queue) in upstream.enumerated() {
            guard let queued = queue.status.oldestEnqueuedAt else { continue }
            text.sample(labels[index], seconds: .milliseconds(max(0, wallClockMilliseconds - queued)))
        }
        each("modbridge_upstream_queue_dropped_total", .counter, "Messages dropped by the queue's bounds (oldest first).") { $0.dropped }
        each("modbridge_upstream_sent_total", .counter, "PUBLISH packets sent upstream.") { $0.sent }
        each("modbridge_upstream_resent_total", .counter, "Messages sent again after a reconnect.") { $0.resent }
        each("modbridge_upstream_acknowledged_total", .counter, "PUBACKs received from the upstream broker.") { $0.acknowledged }
    }
}
