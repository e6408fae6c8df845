/// A logger passed in as a value (never a global): a minimum level and the handler that takes
/// each record at or above it.
package struct Logger: Sendable {
    /// How much a record matters; records below the logger's minimum are not made at all.
    package enum Level: String, Sendable, Comparable, CaseIterable {
        case debug, info, warning, error

        private var rank: Int {
            switch self {
            case .debug: 0
            case .info: 1
            case .warning: 2
            case .error: 3
            }
        }

        package static func < (left: Level, right: Level) -> Bool { left.rank < right.rank }
    }

    /// Takes one record; runs on the logging thread, so it must not block (StandardErrorLog queues).
    package typealias Handler = @Sendable (LogRecord) -> Void

    /// Records below this level are skipped.
    package var minimumLevel: Level
    private let handler: Handler
    private let flusher: @Sendable () -> Void

    /// A logger handing records at or above `minimumLevel` to `handler`; `flush` waits until the
    /// handler has written what it was given (nothing to wait for by default).
    package init(minimumLevel: Level = .info, flush: @escaping @Sendable () -> Void = {}, handler: @escaping Handler) {
        self.minimumLevel = minimumLevel
        self.flusher = flush
        self.handler = handler
    }

    /// Waits until the lines logged so far are written (bounded by the handler): exit paths and
    /// error messages written straight to standard error call it, so lines stay in order and are not lost.
    package func flush() { flusher() }

    /// A logger that drops everything (library defaults, tests that do not look at logs).
    package static let discarding = Logger(minimumLevel: .error) { _ in }

    /// Logs `event` with fields in the order given.
    package func log(_ level: Level, _ event: String, _ fields: KeyValuePairs<String, String> = [:]) {
        guard level >= minimumLevel else { return }
        handler(LogRecord(level: level, event: event, fields: fields.map { ($0.key, $0.value) }))
    }

    /// Logs `event` with fields from a list (built up by the caller).
    package func log(_ level: Level, _ event: String, _ fields: [(String, String)]) {
        guard level >= minimumLevel else { return }
        handler(LogRecord(level: level, event: event, fields: fields))
    }
}

/// One log event: a level, an event name and key=value fields in order.
package struct LogRecord: Sendable {
    package let level: Logger.Level
    package let event: String
    package let fields: [(String, String)]

    /// Creates a record (the logger makes them; tests compare with them).
    package init(level: Logger.Level, event: String, fields: [(String, String)]) {
        self.level = level
        self.event = event
        self.fields = fields
    }

    /// The value of the first field called `key`, if any.
    package subscript(key: String) -> String? {
        fields.first { $0.0 == key }?.1
    }

    /// The record as one line without its newline: `level=info event=line_opened line=/dev/ttyUSB0 …`.
    /// A value that is empty or holds a space, a quote or `=` is quoted, its quotes escaped, so the
    /// line splits back into its fields.
    package var line: String {
        var line = "level=\(level.rawValue) event=\(event)"
        for (key, value) in fields {
            line += " \(key)=" + Self.quoted(value)
        }
        return line
    }

    private static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        var escaped = "\""
        for character in value {
            if character == "\"" { escaped += "\\\"" } else { escaped.append(character) }
        }
        return escaped + "\""
    }
}
