/// Where the broker listens, where it keeps its state, and its limits.
public struct BrokerConfiguration: Sendable {
    /// Address to listen on (IPv4).
    public var host: String
    /// Port to listen on; 0 picks a free one (see `Broker.port`).
    public var port: UInt16
    /// Folder for retained messages and persistent sessions; nil keeps them in memory only.
    public var storageDirectory: String?
    /// Largest PUBLISH payload accepted, in bytes; a larger PUBLISH disconnects its sender.
    public var maximumMessageSize: Int
    /// QoS 1 and 2 messages sent to a client and not yet acknowledged, per session.
    public var maximumInflightMessages: Int
    /// QoS 1 and 2 messages waiting for a session beyond the inflight window; more are dropped.
    public var maximumQueuedMessages: Int
    /// Bytes written to a client's connection that it has not read yet; above this the client
    /// is a slow consumer and is disconnected (its persistent session keeps its QoS 1/2 messages).
    public var maximumPendingBytes: Int
    /// Time a new connection has to send CONNECT.
    public var connectTimeout: Duration
    /// How often flushed storage records are fsynced (a power loss loses at most this much).
    public var syncInterval: Duration

    public init(host: String = "127.0.0.1", port: UInt16 = 1883, storageDirectory: String? = nil,
                maximumMessageSize: Int = 256 * 1024, maximumInflightMessages: Int = 20,
                maximumQueuedMessages: Int = 1000, maximumPendingBytes: Int = 16 * 1024 * 1024,
                connectTimeout: Duration = .seconds(10), syncInterval: Duration = .seconds(1)) {
        self.host = host
        self.port = port
        self.storageDirectory = storageDirectory
        self.maximumMessageSize = maximumMessageSize
        self.maximumInflightMessages = maximumInflightMessages
        self.maximumQueuedMessages = maximumQueuedMessages
        self.maximumPendingBytes = maximumPendingBytes
        self.connectTimeout = connectTimeout
        self.syncInterval = syncInterval
    }

    /// Checks the limits against each other and against what MQTT allows.
    public func validate() throws(BrokerError) {
        // A PUBLISH's remaining length holds the topic (up to 65537 bytes) and a packet id too.
        if maximumMessageSize < 1 || maximumMessageSize > 268_435_455 - 65_539 {
            throw .invalidLimit(name: "maximumMessageSize", value: maximumMessageSize, expected: "1...268369916 bytes")
        }
        if maximumInflightMessages < 1 || maximumInflightMessages > 65_535 {
            throw .invalidLimit(name: "maximumInflightMessages", value: maximumInflightMessages, expected: "1...65535")
        }
        // Inflight and queued messages share the session's 65535 packet identifiers.
        if maximumQueuedMessages < 0 || maximumQueuedMessages + maximumInflightMessages > 65_535 {
            throw .invalidLimit(name: "maximumQueuedMessages", value: maximumQueuedMessages,
                                expected: "0...\(65_535 - maximumInflightMessages) (inflight + queued ≤ 65535)")
        }
        if maximumPendingBytes < maximumMessageSize {
            throw .invalidLimit(name: "maximumPendingBytes", value: maximumPendingBytes,
                                expected: "at least maximumMessageSize (\(maximumMessageSize))")
        }
    }

    /// The largest packet the framer accepts: a PUBLISH with the largest payload and topic.
    var maximumPacketSize: Int { maximumMessageSize + 65_539 + 5 }
}
