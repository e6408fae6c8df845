import MQTT
import POSIX
import Synchronization

/// Where and how an `MQTTClient` connects.
package struct MQTTClientConfiguration: Sendable {
    package var host: String
    package var port: UInt16
    package var connect: Connect
    /// How long to wait for the TCP connection and for CONNACK.
    package var connectTimeout: Duration

    package init(host: String = "127.0.0.1", port: UInt16 = 1883, connect: Connect, connectTimeout: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.connect = connect
        self.connectTimeout = connectTimeout
    }
}

/// An MQTT 3.1.1 client connection: publish at QoS 0, 1 and 2, subscribe, receive, keep-alive.
///
/// One dedicated thread owns the socket and drives a `ClientConnectionStateMachine`, which holds
/// the protocol; the async methods hand the thread commands and wait for their completion. Incoming messages arrive on `messages` (QoS 1 and 2 are acknowledged
/// by the client; a QoS 2 message is delivered once even if the server sends it again before
/// PUBREL). One connection per object: after it ends, connect a new one.
package final class MQTTClient: Sendable {
    /// Whether the server had a session for this client id (CONNACK).
    package let sessionPresent: Bool
    /// Messages the server delivers, in order. Finishes when the connection ends.
    package let messages: AsyncStream<Publish>
    private let connection: ClientConnection

    private init(sessionPresent: Bool, messages: AsyncStream<Publish>, connection: ClientConnection) {
        self.sessionPresent = sessionPresent
        self.messages = messages
        self.connection = connection
    }

    /// Connects and waits for an accepting CONNACK.
    package static func connect(_ configuration: MQTTClientConfiguration) async throws(MQTTError) -> MQTTClient {
        let (messages, sink) = AsyncStream<Publish>.makeStream()
        let connection = try ClientConnection(configuration: configuration, sink: sink)
        let result = await withCheckedContinuation { continuation in
            connection.start { continuation.resume(returning: $0) }
        }
        let sessionPresent = try result.get()
        return MQTTClient(sessionPresent: sessionPresent, messages: messages, connection: connection)
    }

    /// Publishes; returns when the message is written (QoS 0), acknowledged (QoS 1, PUBACK) or
    /// complete (QoS 2, PUBCOMP).
    package func publish(topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false) async throws(MQTTError) {
        let result = await connection.perform(.publish(topic: topic, payload: payload, qos: qos, retain: retain))
        guard case .published = result else { throw Self.failure(result) }
    }

    /// Subscribes; returns the SUBACK return codes, one per subscription.
    package func subscribe(_ subscriptions: [Subscription]) async throws(MQTTError) -> [SubscribeReturnCode] {
        let result = await connection.perform(.subscribe(subscriptions))
        guard case let .subscribed(returnCodes) = result else { throw Self.failure(result) }
        return returnCodes
    }

    /// Unsubscribes; returns on UNSUBACK.
    package func unsubscribe(_ filters: [String]) async throws(MQTTError) {
        let result = await connection.perform(.unsubscribe(filters))
        guard case .unsubscribed = result else { throw Self.failure(result) }
    }

    /// Sends DISCONNECT and closes: the server discards the will.
    package func disconnect() async {
        await connection.stop(graceful: true)
    }

    /// Closes the connection without DISCONNECT, as a crash or a cut cable would: the server
    /// publishes the will.
    package func close() async {
        await connection.stop(graceful: false)
    }

    /// The error a command ended with; a success of the wrong kind would be the machine's fault.
    private static func failure(_ result: ClientCommandResult) -> MQTTError {
        if case let .failed(error) = result { return error }
        return .protocolViolation("unexpected completion \(result)")
    }
}
