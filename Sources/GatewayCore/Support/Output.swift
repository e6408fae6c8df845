import Glibc
import POSIX

/// Standard output for a command's results, standard error for its fatal errors and usage text
/// (log lines go through the `Logger` a command is given).
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
}

