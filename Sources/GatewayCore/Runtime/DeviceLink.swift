import Broker
import Mapping
import MQTT

/// A device's MQTT side: its in-process client of the embedded broker, publishing on the device's
/// topics and subscribed to its command topics.
package final class DeviceLink: Sendable {
    let deviceID: String
    let client: LocalClient
    private let prefix: String
    /// `events`, the topic of every poll cycle's document, joined once.
    private let eventsTopic: String

    private init(deviceID: String, client: LocalClient) {
        self.deviceID = deviceID
        self.client = client
        prefix = "$devices/\(deviceID)/"
        eventsTopic = prefix + "events"
    }

    /// Connects as `deviceID` and subscribes to its commands, its config and its registry's commands.
    package static func connect(to broker: Broker, deviceID: String, registryID: String) async throws(BrokerError) -> DeviceLink {
        let client = try await broker.connectLocal(ClientIdentity(clientID: deviceID, username: deviceID, remoteAddress: "in-process"))
        let link = DeviceLink(deviceID: deviceID, client: client)
        let filters = CommandMessage.filters(device: deviceID, registry: registryID)
        _ = try await client.subscribe(filters.map { Subscription(filter: $0, qos: .atLeastOnce) })
        return link
    }

    /// Messages on the subscribed topics, in the order the broker routed them.
    var messages: AsyncStream<Publish> { client.messages }

    /// `events` (a document from `DeviceAgent.eventsDocument`), and `events/<point>` for points
    /// that have subtopics.
    func publishEvents(_ document: [UInt8], subtopics: [(String, JSONValue)]) {
        publish(topic: eventsTopic, document)
        for (name, value) in subtopics {
            publish(topic: eventsTopic + "/" + name, value.jsonBytes)
        }
    }

    /// The device's `state`, kept by the broker for late subscribers.
    func publishState(_ fields: [(String, JSONValue)]) {
        publish(topic: prefix + "state", JSONValue.objectBytes(fields + [("ts", .string(Timestamp.now()))]), retain: true)
    }

    /// `events/ack` for one command or config message.
    func publishAck(_ ack: CommandAck) {
        publish(topic: eventsTopic + "/ack", Array(ack.jsonText.utf8))
    }

    func disconnect() {
        client.disconnect()
    }

    /// Hands the message to the broker without waiting (the caller is a bus thread); messages of
    /// one device reach the broker in the order they were posted.
    private func publish(topic: String, _ payload: [UInt8], retain: Bool = false) {
        let deviceID = deviceID
        client.post(topic: topic, payload: payload, qos: .atLeastOnce, retain: retain) { error in
            Output.log("error", "publish_failed", ["device": deviceID, "topic": topic, "error": "\(error)"])
        }
    }
}

/// The answer to a command on `events/ack`: `{"id", "ok", "written", "error", "exception"}`.
struct CommandAck {
    var id: JSONValue
    var ok: Bool
    /// Points written, with the values asked for.
    var written: [(String, JSONValue)] = []
    var error: String?
    /// The Modbus exception the device answered with.
    var exception: (code: UInt8, name: String)?
    /// True for an answer to a `config` message.
    var config = false

    var jsonText: String {
        var fields: [(String, JSONValue)] = [("id", id), ("ok", .bool(ok))]
        if config { fields.append(("config", .bool(true))) }
        if !written.isEmpty || ok { fields.append(("written", .object(Dictionary(written, uniquingKeysWith: { $1 })))) }
        if let error { fields.append(("error", .string(error))) }
        if let exception {
            fields.append(("exception", .object(["code": .integer(Int64(exception.code)), "name": .string(exception.name)])))
        }
        return JSONValue.objectText(fields)
    }
}
