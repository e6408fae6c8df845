/// A device's channel to the upstream broker: what it publishes goes into its connection's
/// store-and-forward queue (`UpstreamOutbox`) under the upstream topic layout; commands come from
/// the `UpstreamRouter`. Nothing here blocks: the bus thread only hands messages over.
final class UpstreamDeviceChannel: DeviceChannel {
    let deviceID: String
    private let topics: DevicePublishTopics
    private let outbox: UpstreamOutbox
    private let relay: InputRelay
    private let onClose: @Sendable () -> Void

    init(deviceID: String, layout: TopicLayout, outbox: UpstreamOutbox, relay: InputRelay, onClose: @escaping @Sendable () -> Void) {
        self.deviceID = deviceID
        self.outbox = outbox
        self.relay = relay
        self.onClose = onClose
        topics = DevicePublishTopics(layout: layout, device: deviceID)
    }

    func publishEvents(_ document: [UInt8], subtopics: [(point: String, value: [UInt8])]) {
        outbox.post(QueuedPublish(topic: topics.events, payload: document, retain: false))
        for (point, value) in subtopics {
            outbox.post(QueuedPublish(topic: topics.events(point: point), payload: value, retain: false))
        }
    }

    func publishState(_ document: [UInt8]) {
        outbox.post(QueuedPublish(topic: topics.state, payload: document, retain: true))
    }

    func publishAck(_ document: [UInt8]) {
        outbox.post(QueuedPublish(topic: topics.ack, payload: document, retain: false))
    }

    func receive(_ handler: @escaping @Sendable (DeviceInput) -> Bool) {
        relay.receive(handler)
    }

    func close() {
        relay.close()
        onClose()
    }
}
