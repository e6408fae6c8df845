import Broker
import Mapping
import Modbus

/// Why the gateway could not start (or reload): which file, bus or listener, and what went wrong.
package enum GatewayError: Error, CustomStringConvertible {
    /// The config or a profile has errors (every one of them).
    case configuration(MappingError)
    /// The embedded broker could not start.
    case broker(BrokerError)
    /// A bus's line or simulator could not be set up.
    case bus(id: String, ModbusError)
    /// The config asks for something this version does not do yet.
    case unsupported(String)
    /// A topic template that cannot lay out a device's or registry's topics.
    case topicTemplate(String, reason: String)
    /// The upstream side (its loop, a queue, a connection) could not start.
    case upstream(String)

    package var description: String {
        switch self {
        case let .configuration(error): error.description
        case let .broker(error): "embedded broker: \(error)"
        case let .bus(id, error): "bus \(id): \(error)"
        case let .unsupported(what): what
        case let .topicTemplate(template, reason): "topic template \"\(template)\": \(reason)"
        case let .upstream(detail): "upstream: \(detail)"
        }
    }
}
