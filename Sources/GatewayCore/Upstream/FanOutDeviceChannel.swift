import POSIX

/// A device on the embedded broker and upstream at once: everything it publishes goes to both
/// (local consumers keep their values during an upstream outage while the upstream copy queues),
/// and commands from either side reach the device, each request id once (`CommandDeduplicator`).
package final class FanOutDeviceChannel: DeviceChannel {
    private let channels: [any DeviceChannel]
    private let deviceID: String
    private let deduplicator: CommandDeduplicator
    private let logger: Logger

    package init(deviceID: String, channels: [any DeviceChannel], deduplicator: CommandDeduplicator, logger: Logger) {
        self.deviceID = deviceID
        self.channels = channels
        self.deduplicator = deduplicator
        self.logger = logger
    }

    package func publishEvents(_ document: [UInt8], subtopics: [(point: String, value: [UInt8])]) {
        for channel in channels { channel.publishEvents(document, subtopics: subtopics) }
    }

    package func publishState(_ document: [UInt8]) {
        for channel in channels { channel.publishState(document) }
    }

    package func publishAck(_ document: [UInt8]) {
        for channel in channels { channel.publishAck(document) }
    }

    package func receive(_ handler: @escaping @Sendable (DeviceInput) -> Bool) {
        let (deviceID, deduplicator, logger) = (deviceID, deduplicator, logger)
        for channel in channels {
            channel.receive { input in
                guard deduplicator.admit(input, device: deviceID) else {
                    logger.log(.info, "command_duplicate", ["device": deviceID, "id": CommandDeduplicator.requestID(of: input) ?? "",
                                                            "note": "this request id ran already; not written again"])
                    return true
                }
                return handler(input)
            }
        }
    }

    package func close() {
        for channel in channels { channel.close() }
    }
}
