import Broker

extension GatewayRuntime {
    /// `/metrics` and `/healthz` of this runtime: its device link board (buses, devices), the
    /// embedded broker's statistics and the upstream queues, all read without the actor.
    nonisolated var operations: OperationsEndpoints {
        var brokerStatistics: (@Sendable () -> BrokerStatistics)?
        var listenersNotAccepting: (@Sendable () -> Int)?
        if let broker {
            // In upstream mode the broker only serves HTTP: its MQTT counters would say nothing.
            if devicesOnBroker { brokerStatistics = { broker.statistics } }
            listenersNotAccepting = { broker.statistics.listenersNotAccepting }
        }
        var upstreamQueues: (@Sendable () -> [GatewayMetrics.UpstreamMetrics])?
        if let upstream {
            upstreamQueues = {
                upstream.queueStatuses().map { GatewayMetrics.UpstreamMetrics(connection: $0.name, status: $0.status) }
            }
        }
        return OperationsEndpoints(links: links, brokerStatistics: brokerStatistics, upstreamQueues: upstreamQueues,
                                   listenersNotAccepting: listenersNotAccepting)
    }
}
