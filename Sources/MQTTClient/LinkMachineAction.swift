import MQTT
import POSIX

/// One log line a link machine asks for: what the loop logs, and what tests compare.
package struct UpstreamLogEntry: Sendable, Equatable {
    /// One key=value field, in the order logged.
    package struct Field: Sendable, Equatable {
        package var key: String
        package var value: String
    }

    package var level: Logger.Level
    package var event: String
    package var fields: [Field]

    /// An entry with fields in the order given.
    package init(_ level: Logger.Level, _ event: String, _ fields: KeyValuePairs<String, String>) {
        self.level = level
        self.event = event
        self.fields = fields.map { Field(key: $0.key, value: $0.value) }
    }

    /// The value of the field called `key`, if any.
    package subscript(key: String) -> String? { fields.first { $0.key == key }?.value }
}

/// What the driver of an `UpstreamLinkMachine` must do after giving it an event, in order.
package enum UpstreamLinkAction<Instant: Sendable & Equatable>: Sendable, Equatable {
    /// Find the addresses of `host` (a numeric address is its own answer); reply with
    /// `resolved` or `resolutionFailed`.
    case resolve(host: String)
    /// Open a non-blocking TCP connection to this numeric address; reply with
    /// `transportConnected` or `transportFailed`.
    case connect(address: String, port: UInt16)
    /// Start a TLS client handshake over the connection (checking `serverName` in the server's
    /// certificate); reply with `transportSecured` or `transportFailed`. From then on the bytes
    /// of `write` and `received` are plaintext: the driver encrypts and decrypts.
    case startTLS(serverName: String)
    /// Write these bytes (after those of earlier `write` actions).
    case write([UInt8])
    /// Close the connection; with `flushingWrites` the bytes already asked for go out first
    /// (the DISCONNECT of a removed link), as far as the socket takes them without waiting.
    case closeTransport(flushingWrites: Bool)
    /// Give the machine a `tick` at (or after) this instant; replaces any earlier request; nil: none.
    case scheduleTick(at: Instant?)
    /// Tell the source: `linkUp`.
    case linkUp(sessionPresent: Bool)
    /// Tell the source: `linkDown`.
    case linkDown(MQTTError, retryAt: Instant)
    /// Ask the source for up to `limit` messages and give them to `offered`.
    case pullMessages(limit: Int)
    /// Tell the source: `acknowledged`.
    case acknowledged(UInt64)
    /// Tell the source: `received`.
    case received(Publish)
    /// Tell the source: `subscriptionRefused`.
    case subscriptionRefused(String)
    case log(UpstreamLogEntry)
}

extension MQTTError {
    /// The reason an upstream link went down, as its log line and statistics give it: plain
    /// words for a refused login ("CONNACK 5: not authorized") and the transport's own text
    /// ("connection refused by 127.0.0.1:1883", "TLS handshake failed: ...").
    package var upstreamReason: String {
        switch self {
        case let .connectionRefused(code):
            let text = switch code {
            case .accepted: "accepted"
            case .unacceptableProtocolVersion: "unacceptable protocol version"
            case .identifierRejected: "client identifier rejected"
            case .serverUnavailable: "server unavailable"
            case .badUsernameOrPassword: "bad user name or password"
            case .notAuthorized: "not authorized"
            }
            return "CONNACK \(code.rawValue): \(text)"
        case let .connectionFailed(detail), let .connectionClosed(detail):
            return detail
        case let .timedOut(detail):
            return "timed out: \(detail)"
        default:
            return description
        }
    }
}
