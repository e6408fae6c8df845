import Glibc
import POSIX

/// What went wrong with a serial line, and on which path.
package enum SerialError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path could not be opened (missing, no permission, ...).
    case openFailed(path: String, Errno)
    /// Another process (or another port in this one) holds the line.
    case busy(path: String)
    /// The path is not a terminal device.
    case notATerminal(path: String)
    /// A termios or ioctl call failed while applying a setting.
    case configurationFailed(path: String, setting: String, Errno)
    /// The driver accepted the settings but reads back something else.
    case settingNotApplied(path: String, setting: String, asked: String, got: String)
    /// RS-485 mode was required but the driver has no RS-485 support.
    case rs485Unsupported(path: String, Errno)
    /// A value outside what the line supports (baud rate, bits).
    case invalidSetting(String)
    /// Creating a pseudo-terminal pair failed.
    case pseudoTerminalFailed(Errno)
    /// A read, write or wait on an open line failed.
    case ioFailed(path: String, operation: String, Errno)

    package var description: String {
        switch self {
        case let .openFailed(path, error):
            var text = "cannot open \(path): \(error)"
            if error.rawValue == EACCES { text += " (is the user in the 'dialout' group?)" }
            return text
        case let .busy(path):
            return "\(path) is in use by another process (exclusive open refused)"
        case let .notATerminal(path):
            return "\(path) is not a serial terminal device"
        case let .configurationFailed(path, setting, error):
            return "cannot set \(setting) on \(path): \(error)"
        case let .settingNotApplied(path, setting, asked, got):
            return "\(path): \(setting) set to \(asked) but the driver reports \(got)"
        case let .rs485Unsupported(path, error):
            return "\(path) has no RS-485 mode in its driver (\(error)); use rs485 'auto' or 'off' for an RS-232 or USB adapter with automatic direction control"
        case let .invalidSetting(text):
            return text
        case let .pseudoTerminalFailed(error):
            return "cannot create a pseudo-terminal pair: \(error)"
        case let .ioFailed(path, operation, error):
            return "\(operation) on \(path) failed: \(error)"
        }
    }
}
