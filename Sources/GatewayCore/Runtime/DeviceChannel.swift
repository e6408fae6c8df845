import Mapping

/// A command or config message for a device: what it asks (its topic, parsed) and its payload.
package struct DeviceInput: Sendable {
    package let topic: CommandTopic
    package let payload: [UInt8]

    package init(topic: CommandTopic, payload: [UInt8]) {
        self.topic = topic
        self.payload = payload
    }
}

/// Where a device's messages go and come from: the embedded broker (`BrokerDeviceChannel`) today,
/// a recording one in tests, an upstream broker or a fan-out of two later. The bus thread
/// publishes through it, so no method may block.
package protocol DeviceChannel: AnyObject, Sendable {
    /// A poll cycle's `events` document, and the values of points with a subtopic (JSON each).
    func publishEvents(_ document: [UInt8], subtopics: [(point: String, value: [UInt8])])
    /// The device's `state` document, kept for late subscribers.
    func publishState(_ document: [UInt8])
    /// The answer to one command or config message.
    func publishAck(_ document: [UInt8])
    /// From now on, hands every command and config message to `handler`, in the order they
    /// came (those that came before are handed first). The handler runs on the channel's
    /// delivery thread (the broker's reactor) and must only enqueue; it returns false if it
    /// dropped the message (its device's backlog is full).
    func receive(_ handler: @escaping @Sendable (DeviceInput) -> Bool)
    /// Ends the channel: nothing more is received; what was published before still goes out.
    func close()
}

extension DeviceChannel {
    /// `publishEvents` with the subtopic values as JSON.
    func publishEvents(_ document: [UInt8], subtopics: [(String, JSONValue)]) {
        publishEvents(document, subtopics: subtopics.map { (point: $0.0, value: $0.1.jsonBytes) })
    }

    /// `state` from its fields, with `ts` added.
    func publishState(_ fields: [(String, JSONValue)]) {
        publishState(JSONValue.objectBytes(fields + [("ts", .string(Timestamp.now()))]))
    }

    func publishAck(_ ack: CommandAck) {
        publishAck(Array(ack.jsonText.utf8))
    }
}
