import MQTT

/// Identifies one command given to a `ClientConnectionStateMachine`, so its completion can be
/// matched to the caller waiting for it. Chosen by the caller; the machine only echoes it.
package typealias ClientCommandID = UInt64

/// What a user asks of a client connection once it runs.
package enum ClientCommand: Sendable, Equatable {
    /// PUBLISH; the machine fills in the packet identifier for QoS 1 and 2.
    case publish(topic: String, payload: [UInt8], qos: QoS, retain: Bool)
    case subscribe([Subscription])
    case unsubscribe([String])
}

/// How a command ended: the answer the server gave, or why there is none.
package enum ClientCommandResult: Sendable, Equatable {
    /// QoS 0: written; QoS 1: PUBACK; QoS 2: PUBCOMP.
    case published
    /// SUBACK, one return code per subscription asked for.
    case subscribed([SubscribeReturnCode])
    /// UNSUBACK.
    case unsubscribed
    case failed(MQTTError)
}

/// What the owner of the transport must do after giving the machine an event, in order.
package enum ClientConnectionAction<Instant: Sendable & Equatable>: Sendable, Equatable {
    /// Write these bytes to the transport (after those of earlier `write` actions).
    case write([UInt8])
    /// CONNACK accepted the connection; the flag is its session-present bit.
    case connectionAccepted(sessionPresent: Bool)
    /// Hand this message to the user.
    case deliver(Publish)
    /// The command is over.
    case complete(ClientCommandID, ClientCommandResult)
    /// Give the machine a `tick` at (or after) this instant; replaces any earlier request.
    case scheduleTick(at: Instant)
    /// Close the transport: the connection is over for this reason. With `flushingWrites`, the
    /// bytes already asked to be written go out first (DISCONNECT must reach the server).
    case closeTransport(MQTTError, flushingWrites: Bool)
}
