import Glibc
import POSIX

/// Standard output for a command's results, standard error for its fatal errors and usage text
/// (log lines go through the `Logger` a command is given).
enum Output {
    static func print(_ text: String) {
        write(text, to: STDOUT_FILENO)
    }

    /// `line: false` leaves the cursor after the text (a prompt).
    static func error(_ text: String, line: Bool = true) {
        write(text, to: STDERR_FILENO, line: line)
    }

    /// Unbuffered, whole lines: output interleaves cleanly with other threads and processes.
    /// A closed or full terminal drops the text: there is nowhere left to report that.
    private static func write(_ text: String, to descriptor: Int32, line: Bool = true) {
        try? writeAll(descriptor, Array((!line || text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

