/// The counters a stopping broker reports in its last log line (`broker_stopped`, `gateway_stopped`),
/// so that refusals and denials that were counted but not logged one by one still show.
extension BrokerStatistics {
    /// The counters as log fields, in a fixed order.
    package var stopLineFields: [(String, String)] {
        [("received", String(messagesReceived)), ("delivered", String(messagesDelivered)), ("dropped", String(messagesDropped)),
         ("logins_refused", String(loginsRefused)), ("publishes_denied", String(publishesDenied)),
         ("subscriptions_denied", String(subscriptionsDenied)), ("tls_handshakes_failed", String(tlsHandshakesFailed)),
         ("refusals_not_logged", String(refusalLogsSuppressed)), ("protocol_errors", String(protocolErrors))]
    }
}
