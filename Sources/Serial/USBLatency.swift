import Glibc
import POSIX

/// What became of a USB serial adapter's latency timer when its port was opened.
///
/// An FTDI chip holds received bytes until its buffer fills or its latency timer runs out;
/// ftdi_sio sets the timer to 16 ms. A Modbus answer shorter than the buffer then reaches the
/// master up to 16 ms late, which at 19200 baud and above is as long as the transaction itself:
/// the poll rate halves. In low-latency mode (ASYNC_LOW_LATENCY) ftdi_sio uses 1 ms.
package struct USBLatencyStatus: Equatable, Sendable {
    /// What asking the driver for low-latency mode gave.
    package enum LowLatency: Equatable, Sendable {
        case set
        /// The driver refused TIOCGSERIAL/TIOCSSERIAL.
        case refused(Errno)
    }

    /// The tty's kernel name (`ttyUSB0`), after resolving links such as /dev/serial/by-id.
    package var tty: String
    /// The driver's `latency_timer` in ms before and after asking for low latency; nil where
    /// sysfs has none (a driver without a latency timer, or no FTDI).
    package var latencyBefore: Int?
    package var latencyAfter: Int?
    package var lowLatency: LowLatency

    package init(tty: String, latencyBefore: Int?, latencyAfter: Int?, lowLatency: LowLatency) {
        self.tty = tty
        self.latencyBefore = latencyBefore
        self.latencyAfter = latencyAfter
        self.lowLatency = lowLatency
    }

    /// The sysfs file to write 1 to, for the advice in the log.
    package var latencyTimerPath: String { "/sys/bus/usb-serial/devices/\(tty)/latency_timer" }

    /// How to get a 1 ms timer when it is still above that, or nil when it is 1 ms (or unknown).
    package var advice: String? {
        guard let after = latencyAfter, after > 1 else { return nil }
        return "the adapter holds answers up to \(after) ms: write 1 to \(latencyTimerPath) (as root), "
            + "or add a udev rule: ACTION==\"add\", SUBSYSTEM==\"usb-serial\", DRIVER==\"ftdi_sio\", ATTR{latency_timer}=\"1\""
    }
}

/// Reads a USB serial adapter's latency timer from sysfs and asks its driver for low-latency
/// mode. `sysfsRoot` is `/sys` on a machine; tests give a folder laid out the same way.
package struct USBLatencyTimer: Sendable {
    package let sysfsRoot: String

    package init(sysfsRoot: String = "/sys") {
        self.sysfsRoot = sysfsRoot
    }

    /// The kernel name of the tty at `path` if it is a USB serial adapter (`ttyUSB*`), links resolved.
    package static func usbSerialName(of path: String) -> String? {
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let real = realpath(path, &resolved) != nil
            ? String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : path
        guard let name = real.split(separator: "/").last, name.hasPrefix("ttyUSB") else { return nil }
        return String(name)
    }

    /// The driver's `latency_timer` for `tty` in ms, from the usb-serial bus or the tty class.
    package func latencyTimer(tty: String) -> Int? {
        for path in ["\(sysfsRoot)/bus/usb-serial/devices/\(tty)/latency_timer", "\(sysfsRoot)/class/tty/\(tty)/device/latency_timer"] {
            if let text = Self.readSmallFile(path), let value = Int(text.filter { !$0.isWhitespace }) { return value }
        }
        return nil
    }

    /// Reads the timer, asks the driver on `descriptor` for low latency, reads the timer again.
    package func apply(tty: String, descriptor: Int32) -> USBLatencyStatus {
        let before = latencyTimer(tty: tty)
        let outcome = Self.requestLowLatency(descriptor: descriptor)
        return USBLatencyStatus(tty: tty, latencyBefore: before, latencyAfter: latencyTimer(tty: tty), lowLatency: outcome)
    }

    /// `struct serial_struct` (<linux/serial.h>) starts with four ints, then `flags`: only that
    /// field is changed, in a buffer larger than the struct on any architecture.
    private static let flagsOffset = 16
    private static let serialStructBytes = 256
    /// ASYNC_LOW_LATENCY (<linux/tty_flags.h>: bit 13).
    private static let lowLatencyFlag: Int32 = 1 << 13
    /// TIOCGSERIAL and TIOCSSERIAL (<asm-generic/ioctls.h>).
    private static let getSerial: UInt = 0x541E
    private static let setSerial: UInt = 0x541F

    /// Sets ASYNC_LOW_LATENCY with TIOCGSERIAL/TIOCSSERIAL; ftdi_sio then sets its timer to 1 ms.
    static func requestLowLatency(descriptor: Int32) -> USBLatencyStatus.LowLatency {
        var buffer = [UInt8](repeating: 0, count: serialStructBytes)
        if let error = control(descriptor, getSerial, &buffer) { return .refused(error) }
        let flags = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: flagsOffset, as: Int32.self) }
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: flags | lowLatencyFlag, toByteOffset: flagsOffset, as: Int32.self) }
        if let error = control(descriptor, setSerial, &buffer) { return .refused(error) }
        return .set
    }

    /// One serial ioctl on `buffer`; the error, or nil.
    private static func control(_ descriptor: Int32, _ request: UInt, _ buffer: inout [UInt8]) -> Errno? {
        do {
            _ = try checkedSyscall {
                buffer.withUnsafeMutableBytes { raw in raw.baseAddress.map { ioctl(descriptor, request, $0) } ?? -1 }
            }
            return nil
        } catch {
            return error
        }
    }

    /// A sysfs attribute's text (a few bytes), or nil if it cannot be read.
    private static func readSmallFile(_ path: String) -> String? {
        guard let bytes = try? readWholeFile(path, limit: 64), !bytes.isEmpty else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
