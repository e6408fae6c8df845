import Synchronization

/// A handler for tests: keeps every record in memory, in the order logged, from any thread.
package final class CapturedLog: Sendable {
    private let records = Mutex<[LogRecord]>([])

    /// An empty capture.
    package init() {}

    /// A logger whose records land here.
    package func logger(minimumLevel: Logger.Level = .debug) -> Logger {
        Logger(minimumLevel: minimumLevel) { record in self.records.withLock { $0.append(record) } }
    }

    /// The records so far.
    package var all: [LogRecord] { records.withLock { $0 } }

    /// The records so far of one event.
    package func events(_ event: String) -> [LogRecord] { all.filter { $0.event == event } }
}
