import Mapping
import Modbus
import Registry
import Synchronization

/// How each of the gateway's devices is doing on its Modbus line, for `$monitoring/<id>/json`:
/// written by the bus threads when a device is found, goes offline or comes back, read by the
/// broker's reactor when it builds a monitoring message. Only a lock held for a copy.
package final class DeviceLinkBoard: Sendable {
    /// One device's link, as last seen by its bus thread.
    package struct Link: Sendable, Equatable {
        package var bus: String
        package var unit: UInt8
        /// "unknown" before the first answer or failure, then "online" or "offline".
        package var state: String
        package var lastError: String?
        /// When the device last answered (an exception is an answer); nil before its first.
        package var lastAnswer: ContinuousClock.Instant?
        /// Commands and configs acknowledged on `events/ack` as done, and as failed.
        package var writesOK = 0
        package var writesFailed = 0

        package init(bus: String, unit: UInt8, state: String, lastError: String? = nil, lastAnswer: ContinuousClock.Instant? = nil,
                     writesOK: Int = 0, writesFailed: Int = 0) {
            self.bus = bus
            self.unit = unit
            self.state = state
            self.lastError = lastError
            self.lastAnswer = lastAnswer
            self.writesOK = writesOK
            self.writesFailed = writesFailed
        }
    }

    /// A running bus: where its counters are read from, and how long its thread may go without
    /// progress before `/healthz` calls it stuck.
    private struct AttachedBus {
        let status: @Sendable () -> BusStatus
        let progressLimit: Duration
    }

    /// A bus's poll cycle: measured (nil until every group was read once) and predicted (nil on Modbus TCP).
    package struct BusCycle: Sendable, Equatable {
        package var measured: Duration?
        package var predicted: Duration?

        package init(measured: Duration?, predicted: Duration?) {
            self.measured = measured
            self.predicted = predicted
        }
    }

    private let links = Mutex<[String: Link]>([:])
    private let cycles = Mutex<[String: BusCycle]>([:])
    private let buses = Mutex<[String: AttachedBus]>([:])
    private let servers = Mutex<[String: @Sendable () -> BusServerStatus]>([:])
    private let upstream = Mutex<(@Sendable (String) -> UpstreamQueueStatus?)?>(nil)

    package init() {}

    /// A device starts being polled.
    func added(_ deviceID: String, bus: String, unit: UInt8) {
        links.withLock { $0[deviceID] = Link(bus: bus, unit: unit, state: "unknown", lastError: nil) }
    }

    /// The device answered after being unknown or offline.
    func cameOnline(_ deviceID: String) {
        links.withLock { $0[deviceID]?.state = "online" }
    }

    /// The device answered a request, at `instant`.
    func answered(_ deviceID: String, at instant: ContinuousClock.Instant) {
        links.withLock { $0[deviceID]?.lastAnswer = instant }
    }

    /// A command or config of the device was acknowledged, as done (`ok`) or failed.
    func acknowledged(_ deviceID: String, ok: Bool) {
        links.withLock { links in
            if ok { links[deviceID]?.writesOK += 1 } else { links[deviceID]?.writesFailed += 1 }
        }
    }

    /// The device stopped answering.
    func wentOffline(_ deviceID: String, error: String?) {
        links.withLock {
            $0[deviceID]?.state = "offline"
            $0[deviceID]?.lastError = error
        }
    }

    /// The device is no longer polled.
    func removed(_ deviceID: String) {
        _ = links.withLock { $0.removeValue(forKey: deviceID) }
    }

    /// Where a bus's counters are read from, while it runs; its thread may go `progressLimit`
    /// without progress before it counts as stuck (`BusProgressRule`).
    package func attach(bus: String, progressLimit: Duration = BusProgressRule.minimumLimit, status: @escaping @Sendable () -> BusStatus) {
        buses.withLock { $0[bus] = AttachedBus(status: status, progressLimit: progressLimit) }
    }

    package func detach(bus: String) {
        _ = buses.withLock { $0.removeValue(forKey: bus) }
        _ = cycles.withLock { $0.removeValue(forKey: bus) }
    }

    /// The bus's poll cycle now, from its thread.
    func cycle(bus: String, _ cycle: BusCycle) {
        cycles.withLock { $0[bus] = cycle }
    }

    /// The bus's poll cycle, if it has polled.
    package func busCycle(_ bus: String) -> BusCycle? { cycles.withLock { $0[bus] } }

    /// Where each device's upstream connection and queue status is read from.
    func attachUpstream(_ status: @escaping @Sendable (String) -> UpstreamQueueStatus?) {
        upstream.withLock { $0 = status }
    }

    /// The device's upstream connection and queue, if the gateway has an upstream broker.
    package func upstreamStatus(_ deviceID: String) -> UpstreamQueueStatus? {
        let reader = upstream.withLock { $0 }
        return reader?(deviceID)
    }

    /// The device's link, if it is one of the gateway's polled devices.
    package func link(_ deviceID: String) -> Link? { links.withLock { $0[deviceID] } }

    /// Where a bus's Modbus TCP server's counters are read from, while it runs.
    func attachServer(bus: String, status: @escaping @Sendable () -> BusServerStatus) {
        servers.withLock { $0[bus] = status }
    }

    func detachServer(bus: String) {
        _ = servers.withLock { $0.removeValue(forKey: bus) }
    }

    /// Its bus's server's counters (clients, requests, refusals), if the bus has a server running.
    package func serverStatus(_ bus: String) -> BusServerStatus? {
        let reader = servers.withLock { $0[bus] }
        return reader?()
    }

    /// Its bus's counters (transactions, failures, stray bytes, opens), if the bus runs.
    package func busStatus(_ bus: String) -> BusStatus? {
        let reader = buses.withLock { $0[bus] }
        return reader?.status()
    }

    /// Every running bus's counters and progress limit, by bus id (unordered).
    package func allBuses() -> [(id: String, status: BusStatus, progressLimit: Duration)] {
        let attached = buses.withLock { $0 }
        var result: [(id: String, status: BusStatus, progressLimit: Duration)] = []
        result.reserveCapacity(attached.count)
        for (id, bus) in attached { result.append((id, bus.status(), bus.progressLimit)) }
        return result
    }

    /// Every polled device's link, by device id (unordered).
    package func allLinks() -> [String: Link] { links.withLock { $0 } }
}

extension DeviceLinkBoard {
    /// The Modbus fields of a gateway device's `$monitoring/<id>/json`: its bus and unit, the
    /// link state the bus thread last saw and its last error, and the bus's counters.
    package func monitoringFields(_ deviceID: String) -> [(String, MonitoringValue)] {
        guard let link = link(deviceID) else { return [] }
        var fields: [(String, MonitoringValue)] = [
            ("modbus_bus", .string(link.bus)), ("modbus_unit", .integer(Int64(link.unit))),
            ("modbus_link", .string(link.state)), ("modbus_last_error", link.lastError.map(MonitoringValue.string) ?? .null),
        ]
        if let status = busStatus(link.bus) {
            fields += [("modbus_line_open", .bool(status.isOpen)), ("modbus_line_opens", .integer(Int64(status.opens))),
                       ("modbus_transactions", .integer(Int64(status.transactions))),
                       ("modbus_failures", .integer(Int64(status.failures))),
                       ("modbus_timeouts", .integer(Int64(status.timeouts))),
                       ("modbus_crc_errors", .integer(Int64(status.crcErrors))),
                       ("modbus_framing_errors", .integer(Int64(status.framingErrors))),
                       ("modbus_exceptions", .integer(Int64(status.exceptionCount))),
                       ("modbus_stray_bytes", .integer(Int64(status.strayBytes)))]
        }
        if let cycle = busCycle(link.bus) {
            // Whole milliseconds, rounded up (a cycle is never shown as 0).
            fields += [("bus_cycle_ms", cycle.measured.map { .integer($0.milliseconds) } ?? .null),
                       ("bus_cycle_predicted_ms", cycle.predicted.map { .integer($0.milliseconds) } ?? .null)]
        }
        if let server = serverStatus(link.bus) {
            // A vendor's tool on the bus's Modbus TCP server: is it connected, and is it refused?
            fields += [("bus_server_clients", .integer(Int64(server.connections))),
                       ("bus_server_requests", .integer(Int64(server.requests))),
                       ("bus_server_refused", .integer(Int64(server.refusedRequests)))]
        }
        if let queue = upstreamStatus(deviceID) {
            fields += [("upstream_connected", .bool(queue.connected)), ("upstream_queue_depth", .integer(Int64(queue.depth))),
                       ("upstream_queue_bytes", .integer(Int64(queue.bytes))),
                       ("upstream_queue_oldest_age_s", queue.oldestAgeSeconds(at: Timestamp.nowMilliseconds()).map(MonitoringValue.integer) ?? .null),
                       ("upstream_queue_dropped", .integer(Int64(queue.dropped))), ("upstream_backlog", .integer(Int64(queue.backlog))),
                       ("upstream_drain_rate", .integer(Int64(queue.drainRate))), ("upstream_resent", .integer(Int64(queue.resent)))]
        }
        return fields
    }
}
