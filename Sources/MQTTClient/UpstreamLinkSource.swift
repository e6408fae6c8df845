import MQTT

/// The owner of a link's messages (the store-and-forward outbox). Called on the loop's thread
/// only; no method may block.
package protocol UpstreamLinkSource: AnyObject, Sendable {
    /// Called when the link is added, after every `wake()` and at the instant it last returned,
    /// whatever the link's state: the source moves what was posted into its store (a message
    /// posted during an outage reaches the disk at once) and does its housekeeping. Returns when
    /// to be called again (nil: only on `wake()`).
    func service(at now: ContinuousClock.Instant) -> ContinuousClock.Instant?
    /// CONNACK accepted the connection (the subscriptions are on their way).
    func linkUp(sessionPresent: Bool, at now: ContinuousClock.Instant)
    /// The link went down (or a connect attempt failed); the next attempt is at `retryAt`.
    /// Messages handed out and not acknowledged will not be acknowledged: offer them again after linkUp.
    func linkDown(_ error: MQTTError, retryAt: ContinuousClock.Instant, at now: ContinuousClock.Instant)
    /// Up to `limit` messages to send now, in the order to send them, and when to be asked again
    /// if it holds some back (a rate cap); nil: when woken or when an acknowledgement frees room.
    func nextMessages(limit: Int, at now: ContinuousClock.Instant) -> (messages: [OutboundMessage], askAgainAt: ContinuousClock.Instant?)
    /// PUBACK for a QoS 1 message (or QoS 0 written).
    func acknowledged(_ token: UInt64, at now: ContinuousClock.Instant)
    /// A message from the server (commands).
    func received(_ publish: Publish)
    /// A SUBACK refused a filter (0x80).
    func subscriptionRefused(_ filter: String)
}

/// Counters of one link, for monitoring and logs; readable from any thread.
package struct UpstreamLinkStatistics: Sendable, Equatable {
    /// Connections that reached an accepting CONNACK.
    package var connects = 0
    /// Attempts that failed before CONNACK accepted (DNS, TCP, TLS, CONNACK refused, timeouts).
    package var connectFailures = 0
    /// PUBLISH packets written (resent ones after a reconnect included).
    package var published = 0
    /// Messages acknowledged (PUBACK, or QoS 0 written).
    package var acknowledged = 0
    /// Messages received from the server.
    package var received = 0
    /// The reason of the last disconnect or failed attempt, as logged.
    package var lastError: String?
    package var isConnected = false

    package init() {}
}

extension UpstreamLinkSource {
    /// A source without a store of its own needs no service.
    package func service(at now: ContinuousClock.Instant) -> ContinuousClock.Instant? { nil }
}
