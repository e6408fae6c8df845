import Broker
import HTTP

/// What `/metrics` and `/healthz` answer, for the HTTP site to call on the broker's reactor
/// thread: each copies snapshots (a lock held for a copy, never waiting on a bus) and renders.
package struct OperationsEndpoints: Sendable {
    private let links: DeviceLinkBoard
    private let brokerStatistics: (@Sendable () -> BrokerStatistics)?
    private let upstreamQueues: (@Sendable () -> [GatewayMetrics.UpstreamMetrics])?
    private let listenersNotAccepting: (@Sendable () -> Int)?

    /// `brokerStatistics`: the embedded broker's counters (nil without one); `upstreamQueues`:
    /// each upstream connection's queue (nil without an upstream broker); `listenersNotAccepting`:
    /// for `/healthz`, the broker's listeners that cannot accept (nil without a broker; given
    /// apart because upstream mode's HTTP-only broker shows no broker families).
    package init(links: DeviceLinkBoard, brokerStatistics: (@Sendable () -> BrokerStatistics)?,
                 upstreamQueues: (@Sendable () -> [GatewayMetrics.UpstreamMetrics])? = nil,
                 listenersNotAccepting: (@Sendable () -> Int)? = nil) {
        self.links = links
        self.brokerStatistics = brokerStatistics
        self.upstreamQueues = upstreamQueues
        self.listenersNotAccepting = listenersNotAccepting
    }

    /// The metrics now, as they are rendered.
    package func snapshot() -> GatewayMetrics {
        GatewayMetrics.snapshot(links: links, broker: brokerStatistics, upstream: upstreamQueues)
    }

    /// `GET /metrics`: 200 with the Prometheus text exposition format 0.0.4.
    package func metrics() -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": PrometheusText.contentType], body: snapshot().render())
    }

    /// The buses whose threads are stuck now (`BusProgressRule`), described one a line; nil if none.
    package func stalledBuses() -> String? {
        let rule = BusProgressRule(buses: links.allBuses().map {
            BusProgressRule.Bus(id: $0.id, lastProgress: $0.status.lastProgress, limit: $0.progressLimit)
        })
        return BusProgressRule.describe(rule.stalls(at: .now))
    }

    /// `GET /healthz`: 200 `ok` when the broker accepts connections on every listener (its
    /// reactor serves, or this would not be answered) and every running bus thread made progress
    /// within its limit; otherwise 503 naming the listeners that refuse and the stuck buses.
    package func health() -> HTTPResponse {
        let refusing = listenersNotAccepting?() ?? 0
        let broker = refusing > 0 ? "broker: \(refusing) listener(s) not accepting connections (accept failed: descriptors exhausted?)" : nil
        let problems = [broker, stalledBuses()].compactMap { $0 }
        return Self.health(stalls: problems.isEmpty ? nil : problems.joined(separator: "\n"))
    }

    /// The answer for the stalls described (nil: none).
    static func health(stalls: String?) -> HTTPResponse {
        guard let stalls else { return .text(.ok, "ok\n") }
        return .text(.serviceUnavailable, "stalled\n" + stalls + "\n")
    }
}
