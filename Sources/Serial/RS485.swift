import Glibc
import POSIX

/// What became of the RS-485 settings when a port was opened.
package enum RS485Status: Equatable, Sendable {
    /// Mode `off`: the driver's RS-485 settings were not touched.
    case notRequested
    /// The driver runs the line in RS-485 mode with the asked RTS timing.
    case enabled
    /// Mode `auto` on a driver without RS-485 support (a pty, a USB adapter that switches
    /// direction itself): a warning for the log, the line works as RS-232.
    case unavailable(Errno)
}

/// `struct serial_rs485` from <linux/serial.h>: 8 × u32, the same layout on every architecture.
struct KernelRS485Configuration {
    static let enabled: UInt32 = 1 << 0         // SER_RS485_ENABLED
    static let rtsOnSend: UInt32 = 1 << 1       // SER_RS485_RTS_ON_SEND
    static let rtsAfterSend: UInt32 = 1 << 2    // SER_RS485_RTS_AFTER_SEND

    var flags: UInt32 = 0
    var delayRTSBeforeSend: UInt32 = 0
    var delayRTSAfterSend: UInt32 = 0
    var padding: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0)

    init(_ settings: RS485Settings) {
        flags = Self.enabled | (settings.rtsOnSend ? Self.rtsOnSend : Self.rtsAfterSend)
        delayRTSBeforeSend = settings.delayBeforeSendMilliseconds
        delayRTSAfterSend = settings.delayAfterSendMilliseconds
    }

    init() {}
}

extension SerialPort {
    /// Errors by which a driver says it has no RS-485 ioctls.
    private static let noRS485Support: Set<Int32> = [ENOTTY, EINVAL, ENOTSUP, 515 /* ENOIOCTLCMD */]

    /// Applies `TIOCSRS485` per the settings' mode and reads it back.
    static func applyRS485(_ settings: RS485Settings, descriptor: Int32, path: String) throws(SerialError) -> RS485Status {
        guard settings.mode != .off else { return .notRequested }
        var asked = KernelRS485Configuration(settings)
        do {
            _ = try checkedSyscall { withUnsafeMutablePointer(to: &asked) { ioctl(descriptor, UInt(TIOCSRS485), $0) } }
        } catch {
            if noRS485Support.contains(error.rawValue) {
                if settings.mode == .auto { return .unavailable(error) }
                throw .rs485Unsupported(path: path, error)
            }
            throw .configurationFailed(path: path, setting: "RS-485 mode", error)
        }
        var current = KernelRS485Configuration()
        do {
            _ = try checkedSyscall { withUnsafeMutablePointer(to: &current) { ioctl(descriptor, UInt(TIOCGRS485), $0) } }
        } catch {
            throw .configurationFailed(path: path, setting: "RS-485 mode (read back)", error)
        }
        let rtsMask = KernelRS485Configuration.enabled | KernelRS485Configuration.rtsOnSend | KernelRS485Configuration.rtsAfterSend
        if current.flags & rtsMask != asked.flags & rtsMask {
            throw .settingNotApplied(path: path, setting: "RS-485 flags",
                                     asked: String(asked.flags, radix: 16), got: String(current.flags, radix: 16))
        }
        // Drivers clamp delays to what they support (often 100 ms); the clamped value is what runs.
        return .enabled
    }
}
