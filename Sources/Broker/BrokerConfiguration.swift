import HTTP
import TLS

/// Where the broker listens, where it keeps its state, and its limits.
package struct BrokerConfiguration: Sendable {
    /// The addresses to listen on, each with its own port; at least one.
    package var listeners: [ListenerConfiguration]
    /// Folder for retained messages and persistent sessions; nil keeps them in memory only.
    package var storageDirectory: String?
    /// Largest PUBLISH payload accepted, in bytes; a larger PUBLISH disconnects its sender.
    package var maximumMessageSize: Int
    /// QoS 1 and 2 messages sent to a client and not yet acknowledged, per session.
    package var maximumInflightMessages: Int
    /// QoS 1 and 2 messages waiting for a session beyond the inflight window; more are dropped.
    package var maximumQueuedMessages: Int
    /// Bytes written to a client's connection that it has not read yet; above this the client
    /// is a slow consumer and is disconnected (its persistent session keeps its QoS 1/2 messages).
    package var maximumPendingBytes: Int
    /// Time a new connection has to send CONNECT (on a TLS listener: from the handshake's end).
    package var connectTimeout: Duration
    /// Time a connection on a TLS listener has to complete its handshake.
    package var tlsHandshakeTimeout: Duration = .seconds(10)
    /// How often flushed storage records are fsynced (a power loss loses at most this much).
    package var syncInterval: Duration
    /// What one HTTP request may carry (request line, header section, body).
    package var httpLimits = HTTPLimits()
    /// How long an HTTP connection may stay open between requests (keep-alive).
    package var httpIdleTimeout: Duration = .seconds(60)
    /// How long a request may take to arrive whole from its first byte (a client that trickles
    /// its header holds a connection no longer than this).
    package var httpRequestTimeout: Duration = .seconds(10)
    /// How long a console login lasts without being used, and at most.
    package var consoleSessionIdle: Duration = .seconds(8 * 3600)
    package var consoleSessionLifetime: Duration = .seconds(24 * 3600)
    /// Console logins held at once; the oldest goes when a new one would pass this.
    package var maximumConsoleSessions = 1000

    package init(host: String = "127.0.0.1", port: UInt16 = 1883, storageDirectory: String? = nil,
                maximumMessageSize: Int = 256 * 1024, maximumInflightMessages: Int = 20,
                maximumQueuedMessages: Int = 1000, maximumPendingBytes: Int = 16 * 1024 * 1024,
                connectTimeout: Duration = .seconds(10), syncInterval: Duration = .seconds(1)) {
        self.init(listeners: [ListenerConfiguration(host: host, port: port)], storageDirectory: storageDirectory,
                  maximumMessageSize: maximumMessageSize, maximumInflightMessages: maximumInflightMessages,
                  maximumQueuedMessages: maximumQueuedMessages, maximumPendingBytes: maximumPendingBytes,
                  connectTimeout: connectTimeout, syncInterval: syncInterval)
    }

    /// Settings with several listeners.
    package init(listeners: [ListenerConfiguration], storageDirectory: String? = nil,
                maximumMessageSize: Int = 256 * 1024, maximumInflightMessages: Int = 20,
                maximumQueuedMessages: Int = 1000, maximumPendingBytes: Int = 16 * 1024 * 1024,
                connectTimeout: Duration = .seconds(10), syncInterval: Duration = .seconds(1)) {
        self.listeners = listeners
        self.storageDirectory = storageDirectory
        self.maximumMessageSize = maximumMessageSize
        self.maximumInflightMessages = maximumInflightMessages
        self.maximumQueuedMessages = maximumQueuedMessages
        self.maximumPendingBytes = maximumPendingBytes
        self.connectTimeout = connectTimeout
        self.syncInterval = syncInterval
    }

    /// The first listener's address (the one `Broker.port` reports); setting it replaces that
    /// listener's address, or adds a listener if there is none.
    package var host: String {
        get { listeners.first?.host ?? "127.0.0.1" }
        set {
            if listeners.isEmpty { listeners = [ListenerConfiguration(host: newValue, port: 1883)] } else { listeners[0].host = newValue }
        }
    }

    /// The first listener's port; setting it works as for `host`.
    package var port: UInt16 {
        get { listeners.first?.port ?? 1883 }
        set {
            if listeners.isEmpty { listeners = [ListenerConfiguration(host: "127.0.0.1", port: newValue)] } else { listeners[0].port = newValue }
        }
    }

    /// Checks the listeners and the limits against each other and against what MQTT allows.
    package func validate() throws(BrokerError) {
        if listeners.isEmpty {
            throw .invalidLimit(name: "listeners", value: 0, expected: "at least one listener")
        }
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
        for listener in listeners {
            if case let .tls(context) = listener.security, context.role != .server {
                throw .invalidListener(listener.description, reason: "its TLS context is a client context")
            }
        }
        if tlsHandshakeTimeout <= .zero {
            throw .invalidLimit(name: "tlsHandshakeTimeout", value: 0, expected: "more than 0 seconds")
        }
        if maximumPendingBytes < maximumMessageSize {
            throw .invalidLimit(name: "maximumPendingBytes", value: maximumPendingBytes,
                                expected: "at least maximumMessageSize (\(maximumMessageSize))")
        }
    }

    /// The largest packet the framer accepts: a PUBLISH with the largest payload and topic.
    var maximumPacketSize: Int { maximumMessageSize + 65_539 + 5 }
}
