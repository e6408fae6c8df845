/// How one upstream connection and its queue are doing, for logs and `$monitoring`: written on
/// the upstream loop's thread, read from any.
package struct UpstreamQueueStatus: Sendable, Equatable {
    /// Whether the link is up (CONNACK accepted).
    package var connected = false
    /// Messages in the queue not yet acknowledged by the upstream broker.
    package var depth = 0
    /// Bytes of the queue's files.
    package var bytes = 0
    /// When the oldest unacknowledged message was queued (wall clock, milliseconds since 1970).
    package var oldestEnqueuedAt: Int64?
    /// Messages dropped by the queue's bounds since start (oldest first).
    package var dropped = 0
    /// PUBLISH packets sent upstream since start.
    package var sent = 0
    /// Of those, messages sent again after a reconnect (the broker may deliver them twice: QoS 1).
    package var resent = 0
    /// PUBACKs received since start.
    package var acknowledged = 0
    /// PUBACKs in the last whole second: how fast a backlog drains.
    package var drainRate = 0
    /// Messages of the backlog (queued before the link came up) not yet sent.
    package var backlog = 0

    package init() {}

    /// Seconds since the oldest message was queued, at `nowMilliseconds`.
    package func oldestAgeSeconds(at nowMilliseconds: Int64) -> Int64? {
        oldestEnqueuedAt.map { max(0, (nowMilliseconds - $0) / 1000) }
    }
}
