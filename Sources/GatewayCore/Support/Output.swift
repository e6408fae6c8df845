import Glibc
import POSIX

/// Standard output for results, standard error for logs and errors.
enum Output {
    static func print(_ text: String) {
        write(text, to: STDOUT_FILENO)
    }

    static func error(_ text: String) {
        write(text, to: STDERR_FILENO)
    }

    /// Unbuffered, whole lines: output interleaves cleanly with other threads and processes.
    /// A closed or full terminal drops the text: there is nowhere left to report that.
    private static func write(_ text: String, to descriptor: Int32) {
        try? writeAll(descriptor, Array((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// One log line: `level=info event=line_opened line=/dev/ttyUSB0 …`.
    static func log(_ level: String, _ event: String, _ fields: KeyValuePairs<String, String> = [:]) {
        log(level, event, fields.map { ($0.key, $0.value) })
    }

    /// One log line from fields in a list (as the broker's logger hands them over).
    static func log(_ level: String, _ event: String, _ fields: [(String, String)]) {
        var line = "level=\(level) event=\(event)"
        for (key, value) in fields {
            line += " \(key)=" + quoted(value)
        }
        error(line)
    }

    private static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

private extension String {
    func replacingOccurrences(of target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
