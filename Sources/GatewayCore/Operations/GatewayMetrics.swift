import Broker
import Mapping
import Modbus
import POSIX

/// Everything `/metrics` shows, copied at one moment: each running bus's counters, each polled
/// device's link, the broker's statistics and the upstream queues. Taking it only copies
/// snapshots (each under its owner's lock, held for the copy); rendering it is a pure function,
/// tested with exact text (GatewayMetrics+Render.swift).
package struct GatewayMetrics: Sendable {
    /// One running bus.
    package struct BusMetrics: Sendable {
        package var id: String
        package var status: BusStatus
        package var progressLimit: Duration
        package var cycle: DeviceLinkBoard.BusCycle?
        package var server: BusServerStatus?

        package init(id: String, status: BusStatus, progressLimit: Duration, cycle: DeviceLinkBoard.BusCycle? = nil,
                     server: BusServerStatus? = nil) {
            self.id = id
            self.status = status
            self.progressLimit = progressLimit
            self.cycle = cycle
            self.server = server
        }
    }

    /// One polled device.
    package struct DeviceMetrics: Sendable {
        package var id: String
        package var link: DeviceLinkBoard.Link

        package init(id: String, link: DeviceLinkBoard.Link) {
            self.id = id
            self.link = link
        }
    }

    /// One upstream connection and its queue (`shared`, or a device's own).
    package struct UpstreamMetrics: Sendable {
        package var connection: String
        package var status: UpstreamQueueStatus

        package init(connection: String, status: UpstreamQueueStatus) {
            self.connection = connection
            self.status = status
        }
    }

    /// In bus id order.
    package var buses: [BusMetrics]
    /// In device id order.
    package var devices: [DeviceMetrics]
    /// Nil without an embedded broker (mode `upstream`).
    package var broker: BrokerStatistics?
    /// In connection name order; empty without an upstream broker.
    package var upstream: [UpstreamMetrics]
    /// The process's CPU, memory and descriptors; nil where /proc is missing (the families are left out).
    package var process: ProcessStatistics?
    /// The instant ages are measured at (monotonic), and the wall clock for queue ages.
    package var now: ContinuousClock.Instant
    package var wallClockMilliseconds: Int64

    package init(buses: [BusMetrics], devices: [DeviceMetrics], broker: BrokerStatistics?, upstream: [UpstreamMetrics],
                 now: ContinuousClock.Instant, wallClockMilliseconds: Int64) {
        self.buses = buses.sorted { $0.id < $1.id }
        self.devices = devices.sorted { $0.id < $1.id }
        self.broker = broker
        self.upstream = upstream.sorted { $0.connection < $1.connection }
        self.now = now
        self.wallClockMilliseconds = wallClockMilliseconds
    }

    /// Copies what `links` holds (buses, their cycles and servers, devices), the broker's
    /// statistics and the upstream queues, now.
    package static func snapshot(links: DeviceLinkBoard, broker: (@Sendable () -> BrokerStatistics)?,
                                 upstream: (@Sendable () -> [UpstreamMetrics])?) -> GatewayMetrics {
        let buses = links.allBuses().map { bus in
            BusMetrics(id: bus.id, status: bus.status, progressLimit: bus.progressLimit,
                       cycle: links.busCycle(bus.id), server: links.serverStatus(bus.id))
        }
        let devices = links.allLinks().map { DeviceMetrics(id: $0.key, link: $0.value) }
        var metrics = GatewayMetrics(buses: buses, devices: devices, broker: broker?(), upstream: upstream?() ?? [],
                                     now: .now, wallClockMilliseconds: Timestamp.nowMilliseconds())
        metrics.process = ProcessStatistics.current()
        return metrics
    }

    /// The health rule over these buses.
    package var progressRule: BusProgressRule {
        BusProgressRule(buses: buses.map { BusProgressRule.Bus(id: $0.id, lastProgress: $0.status.lastProgress, limit: $0.progressLimit) })
    }
}
