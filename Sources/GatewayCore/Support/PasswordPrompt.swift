import Glibc
import Synchronization

/// Reads a password from standard input: on a terminal with echo off (restored by `restore`,
/// which the command calls on every path, a signal's too), from a pipe as its first line.
final class PasswordPrompt: Sendable {
    /// Longer input is not a password someone typed.
    static let maximumBytes = 1024

    /// Why no password could be read.
    enum Failure: Error, CustomStringConvertible {
        case empty
        case tooLong
        case notUTF8
        case readFailed(Int32)

        var description: String {
            switch self {
            case .empty: "no password on standard input"
            case .tooLong: "the password is longer than \(PasswordPrompt.maximumBytes) bytes"
            case .notUTF8: "the password is not valid UTF-8"
            case let .readFailed(code): "cannot read standard input: \(String(cString: strerror(code)))"
            }
        }
    }

    private let descriptor: Int32
    /// The terminal's settings before echo was turned off; nil once restored, or for a pipe.
    private let saved: Mutex<termios?>

    /// Whether standard input is a terminal (then the password is asked twice).
    let isTerminal: Bool

    init(descriptor: Int32 = STDIN_FILENO) {
        self.descriptor = descriptor
        var settings = termios()
        isTerminal = isatty(descriptor) == 1 && tcgetattr(descriptor, &settings) == 0
        saved = Mutex(isTerminal ? settings : nil)
    }

    /// Turns echo off (keeping the newline, so the cursor moves on) until `restore`.
    func hideInput() {
        saved.withLock { saved in
            guard var settings = saved else { return }
            settings.c_lflag &= ~tcflag_t(ECHO)
            settings.c_lflag |= tcflag_t(ECHONL)
            _ = tcsetattr(descriptor, TCSAFLUSH, &settings)
        }
    }

    /// Puts the terminal's settings back; later calls do nothing.
    func restore() {
        saved.withLock { saved in
            guard var settings = saved else { return }
            _ = tcsetattr(descriptor, TCSAFLUSH, &settings)
            saved = nil
        }
    }

    /// One line, without its line end (blocking: call it off the concurrency pool).
    func readLine() throws(Failure) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(descriptor, &byte, 1)
            if count < 0 {
                if errno == EINTR { continue }
                throw .readFailed(errno)
            }
            if count == 0 || byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
            if bytes.count > Self.maximumBytes { throw .tooLong }
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard !bytes.isEmpty else { throw .empty }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        return text
    }
}
