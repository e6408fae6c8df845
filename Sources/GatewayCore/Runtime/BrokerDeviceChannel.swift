import Broker
import MQTT
import POSIX

/// A device's channel through the embedded broker: its in-process client, publishing on the
/// device's topics and subscribed to its command topics, whose messages the broker's reactor
/// hands straight to the receiver (no task per device).
package final class BrokerDeviceChannel: DeviceChannel {
    let deviceID: String
    private let topics: DevicePublishTopics
    private let client: LocalClient
    private let relay: InputRelay
    private let logger: Logger

    private init(deviceID: String, layout: TopicLayout, client: LocalClient, relay: InputRelay, logger: Logger) {
        self.deviceID = deviceID
        self.logger = logger
        self.client = client
        self.relay = relay
        topics = DevicePublishTopics(layout: layout, device: deviceID)
    }

    /// Connects as `deviceID` and subscribes to its commands, its config and its registry's commands;
    /// failed publishes and stray topics go to `logger`.
    package static func connect(to broker: Broker, deviceID: String, registryID: String,
                                layout: TopicLayout = .standard, logger: Logger) async throws(BrokerError) -> BrokerDeviceChannel {
        let relay = InputRelay()
        let identity = ClientIdentity(clientID: deviceID, username: deviceID, remoteAddress: "in-process")
        // Runs on the broker's reactor thread: parse the topic and enqueue, nothing more. A
        // message the poller drops (its backlog is full) counts as dropped in the broker's statistics.
        let client = try await broker.connectLocal(identity) { message in
            guard let topic = layout.parse(message.topic) else {
                // Only the filters below are subscribed, so every message parses.
                logger.log(.warning, "command_topic_unknown", ["device": deviceID, "topic": message.topic])
                return false
            }
            return relay.pass(DeviceInput(topic: topic, payload: message.payload))
        }
        let channel = BrokerDeviceChannel(deviceID: deviceID, layout: layout, client: client, relay: relay, logger: logger)
        let filters = layout.commandFilters(device: deviceID, registry: registryID)
        _ = try await client.subscribe(filters.map { Subscription(filter: $0, qos: .atLeastOnce) })
        return channel
    }

    package func publishEvents(_ document: [UInt8], subtopics: [(point: String, value: [UInt8])]) {
        publish(topic: topics.events, document)
        for (point, value) in subtopics {
            publish(topic: topics.events(point: point), value)
        }
    }

    package func publishState(_ document: [UInt8]) {
        publish(topic: topics.state, document, retain: true)
    }

    package func publishAck(_ document: [UInt8]) {
        publish(topic: topics.ack, document)
    }

    package func receive(_ handler: @escaping @Sendable (DeviceInput) -> Bool) {
        relay.receive(handler)
    }

    package func close() {
        relay.close()
        client.disconnect()
    }

    /// Hands the message to the broker without waiting (the caller is a bus thread); messages of
    /// one device reach the broker in the order they were posted.
    private func publish(topic: String, _ payload: [UInt8], retain: Bool = false) {
        let (deviceID, logger) = (deviceID, logger)
        client.post(topic: topic, payload: payload, qos: .atLeastOnce, retain: retain) { error in
            logger.log(.error, "publish_failed", ["device": deviceID, "topic": topic, "error": "\(error)"])
        }
    }
}
