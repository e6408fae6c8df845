import POSIX

/// What went wrong in the broker, and where: the listener, a client, a topic, the storage file.
package enum BrokerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The listener on `host`:`port` could not be opened (bound, or registered with the reactor).
    case listenFailed(host: String, port: UInt16, Errno)
    /// The reactor (epoll, wake-up eventfd, its thread) could not be set up.
    case reactorFailed(String, Errno)
    /// A storage file could not be opened, read, written or synced.
    case storageFailed(path: String, operation: String, Errno)
    /// A storage record that cannot be decoded (offset in the file, what was wrong).
    case storageCorrupt(path: String, offset: Int, reason: String)
    /// A limit in the broker's settings that makes no sense (name, value, what is allowed).
    case invalidLimit(name: String, value: Int, expected: String)
    /// A listener whose settings cannot work (`reason` says why).
    case invalidListener(String, reason: String)
    /// The broker is not running (stopped, or not started yet).
    case notRunning
    /// The in-process client was refused by the policy (a publish or a subscribe).
    case notAuthorized(clientID: String, topic: String)
    /// A topic or filter from the in-process API that breaks the MQTT rules.
    case invalidTopic(String, reason: String)
    /// An in-process publish over the message size limit.
    case messageTooLarge(topic: String, size: Int, limit: Int)
    /// An in-process client asked for a client id that a connected client holds.
    case clientIDInUse(String)

    package var description: String {
        switch self {
        case let .listenFailed(host, port, error): "cannot listen on \(ListenerConfiguration.describe(host: host, port: port)): \(error)"
        case let .reactorFailed(what, error): "broker reactor: \(what): \(error)"
        case let .storageFailed(path, operation, error): "storage \(path): \(operation): \(error)"
        case let .storageCorrupt(path, offset, reason): "storage \(path) at byte \(offset): \(reason)"
        case let .invalidLimit(name, value, expected): "broker limit \(name) = \(value): expected \(expected)"
        case let .invalidListener(listener, reason): "listener \(listener): \(reason)"
        case .notRunning: "the broker is not running"
        case let .notAuthorized(clientID, topic): "client \(clientID) is not authorised for \(topic)"
        case let .invalidTopic(topic, reason): "topic \(topic): \(reason)"
        case let .messageTooLarge(topic, size, limit): "message to \(topic): \(size) bytes over the limit of \(limit)"
        case let .clientIDInUse(clientID): "client id \(clientID) is in use by a connected client"
        }
    }
}
