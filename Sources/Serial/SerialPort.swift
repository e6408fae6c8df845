import Glibc
import POSIX

/// An open, configured serial line; the one owner of its file descriptor.
///
/// Opened exclusively: `TIOCEXCL` keeps other (unprivileged) processes out, and an advisory
/// `flock` keeps out other modbridge ports and root processes that honour it.
package final class SerialPort {
    /// The path the port was opened from.
    package let path: String
    /// The settings applied at open and verified by reading them back.
    package let settings: SerialSettings
    /// What RS-485 mode the driver runs in.
    package private(set) var rs485Status: RS485Status = .notRequested
    /// A USB serial adapter's latency timer and low-latency mode; nil for other lines.
    package private(set) var usbLatency: USBLatencyStatus?
    /// A pseudo-terminal (a test line or simulator) rather than a UART.
    package private(set) var isPseudoTerminal = false
    private var descriptor: Int32

    /// The open descriptor, or -1 after `close()`. Borrowed by libmodbus; never closed by it.
    package var fileDescriptor: Int32 { descriptor }

    private init(path: String, settings: SerialSettings, descriptor: Int32) {
        self.path = path
        self.settings = settings
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Opens `path` exclusively, applies `settings` in raw mode and verifies them with `tcgetattr`.
    package static func open(path: String, settings: SerialSettings) throws(SerialError) -> SerialPort {
        let descriptor: Int32
        do {
            descriptor = try checkedSyscall { Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK) }
        } catch {
            if error.rawValue == EBUSY { throw .busy(path: path) }
            throw .openFailed(path: path, error)
        }
        // From here the descriptor has an owner that closes it on every exit.
        let port = SerialPort(path: path, settings: settings, descriptor: descriptor)
        guard isatty(descriptor) == 1 else { throw .notATerminal(path: path) }
        do {
            _ = try checkedSyscall { flock(descriptor, LOCK_EX | LOCK_NB) }
        } catch {
            if error.rawValue == EWOULDBLOCK { throw .busy(path: path) }
            throw .configurationFailed(path: path, setting: "exclusive lock", error)
        }
        do {
            _ = try checkedSyscall { ioctl(descriptor, UInt(TIOCEXCL)) }
        } catch {
            throw .configurationFailed(path: path, setting: "exclusive mode (TIOCEXCL)", error)
        }
        port.isPseudoTerminal = isPseudoTerminalDevice(descriptor)
        try port.applyLineSettings()
        port.rs485Status = try applyRS485(settings.rs485, descriptor: descriptor, path: path)
        if let tty = USBLatencyTimer.usbSerialName(of: path) {
            port.usbLatency = USBLatencyTimer().apply(tty: tty, descriptor: descriptor)
        }
        return port
    }

    private func applyLineSettings() throws(SerialError) {
        var attributes = termios()
        do {
            _ = try checkedSyscall { tcgetattr(descriptor, &attributes) }
        } catch {
            throw .configurationFailed(path: path, setting: "terminal attributes (read)", error)
        }
        Termios.configure(&attributes, for: settings)
        if isPseudoTerminal {
            // The pty driver forces CS8 without PARENB (it has no framing). Asking for them anyway
            // makes glibc's tcsetattr fail with EINVAL whenever nothing else changes (a reopen at
            // the same settings). INPCK and PARODD stay, so a simulator still sees the parity.
            attributes.c_cflag &= ~tcflag_t(PARENB | CSIZE)
            attributes.c_cflag |= tcflag_t(CS8)
        }
        do {
            _ = try checkedSyscall { tcsetattr(descriptor, TCSANOW, &attributes) }
            _ = try checkedSyscall { tcflush(descriptor, TCIOFLUSH) }
        } catch {
            throw .configurationFailed(path: path, setting: settings.summary, error)
        }
        try verify(readBack())
    }

    /// tcsetattr succeeds if any one setting took; each one is checked here.
    private func verify(_ state: TermiosReadback) throws(SerialError) {
        func check(_ setting: String, _ asked: String, _ got: String?) throws(SerialError) {
            if asked != got { throw .settingNotApplied(path: path, setting: setting, asked: asked, got: got ?? "unknown") }
        }
        try check("input baud rate", String(settings.baudRate.rawValue), state.inputBaudRate.map { String($0) })
        try check("output baud rate", String(settings.baudRate.rawValue), state.outputBaudRate.map { String($0) })
        // Linux's pty driver has no framing: it forces CS8 without parity whatever is asked.
        if !isPseudoTerminal {
            try check("data bits", String(settings.dataBits.rawValue), state.dataBits.map { String($0.rawValue) })
            try check("parity", settings.parity.rawValue, state.parity.rawValue)
        }
        try check("stop bits", String(settings.stopBits.rawValue), String(state.stopBits.rawValue))
        try check("raw mode", "true", String(state.isRaw))
        try check("hardware flow control", "false", String(state.hardwareFlowControl))
    }

    /// The line's current settings as the driver reports them.
    package func readBack() throws(SerialError) -> TermiosReadback {
        var attributes = termios()
        do {
            _ = try checkedSyscall { tcgetattr(descriptor, &attributes) }
        } catch {
            throw .ioFailed(path: path, operation: "tcgetattr", error)
        }
        return Termios.readback(attributes)
    }

    /// Drops whatever has arrived and not been read (stale or late answers).
    package func discardInput() throws(SerialError) {
        do {
            _ = try checkedSyscall { tcflush(descriptor, TCIFLUSH) }
        } catch {
            throw .ioFailed(path: path, operation: "tcflush", error)
        }
    }

    /// Waits up to `wait` (whole milliseconds, rounded up; zero: no wait) for bytes and reads
    /// those that have arrived into the front of `chunk` (at most its size). Returns how many
    /// came: 0 if none did in time. A line that went away (hang-up, end of file) is an error.
    package func read(into chunk: inout [UInt8], waitingAtMost wait: Duration) throws(SerialError) -> Int {
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready: Int32
        do {
            ready = try checkedSyscall { poll(&waiting, 1, wait > .zero ? Int32(clamping: wait.milliseconds) : 0) }
        } catch {
            throw .ioFailed(path: path, operation: "poll", error)
        }
        if ready == 0 || chunk.isEmpty { return 0 }
        if waiting.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 && waiting.revents & Int16(POLLIN) == 0 {
            throw .ioFailed(path: path, operation: "poll", Errno(rawValue: EIO))
        }
        let count: Int
        do {
            count = try checkedSyscall { Glibc.read(descriptor, &chunk, chunk.count) }
        } catch {
            if error.rawValue == EAGAIN { return 0 }
            throw .ioFailed(path: path, operation: "read", error)
        }
        if count == 0 { throw .ioFailed(path: path, operation: "read", Errno(rawValue: EIO)) }
        return count
    }

    /// Reads and drops bytes until the line has been quiet for `quiet`, or `limit` has passed.
    /// Returns the number of bytes dropped. Used after a failed transaction so that a late
    /// answer is not taken for the answer to the next request.
    @discardableResult
    package func drainUntilQuiet(quiet: Duration, limit: Duration) throws(SerialError) -> Int {
        try POSIX.drainUntilQuiet(quiet: quiet, limit: limit) { (buffer, wait) throws(SerialError) in
            try read(into: &buffer, waitingAtMost: wait)
        }
    }

    /// Releases exclusive mode and closes the line. Safe to call more than once.
    package func close() {
        guard descriptor >= 0 else { return }
        // Exclusive mode outlives this descriptor while another holds the tty; clear it first.
        _ = ioctl(descriptor, UInt(TIOCNXCL))
        _ = Glibc.close(descriptor)
        descriptor = -1
    }
}

/// True for a UNIX 98 pty terminal side (character device majors 136–143, Documentation/admin-guide/devices.txt).
private func isPseudoTerminalDevice(_ descriptor: Int32) -> Bool {
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { return false }
    let device = UInt64(info.st_rdev)
    let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~0xFFF)
    return (136...143).contains(major)
}
