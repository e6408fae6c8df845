import Glibc
import POSIX

/// A pseudo-terminal pair (`openpty`): a terminal path that a client opens like a serial port,
/// and the controller side on which a simulated device reads requests and writes answers.
package final class PseudoTerminal {
    /// The terminal's path (`/dev/pts/N`), what a Modbus master opens.
    package private(set) var terminalPath = ""
    private var controller: Int32
    private var terminal: Int32

    /// The controller ("master") side: non-blocking, close-on-exec, owned by this object.
    package var controllerDescriptor: Int32 { controller }

    private init(controller: Int32, terminal: Int32) {
        self.controller = controller
        self.terminal = terminal
    }

    deinit { close() }

    /// Creates a pair whose terminal side starts in raw mode (no echo of what the device writes).
    package static func open() throws(SerialError) -> PseudoTerminal {
        var controller: Int32 = -1
        var terminal: Int32 = -1
        var raw = termios()
        cfmakeraw(&raw)
        do {
            _ = try checkedSyscall { openpty(&controller, &terminal, nil, &raw, nil) }
        } catch {
            throw .pseudoTerminalFailed(error)
        }
        // The terminal side stays open here too: without it the controller side reads EIO
        // (hang-up) whenever the client closes its line to reopen it.
        let pair = PseudoTerminal(controller: controller, terminal: terminal)
        var name = [CChar](repeating: 0, count: 128)
        let nameResult = ttyname_r(terminal, &name, name.count)
        guard nameResult == 0 else { throw .pseudoTerminalFailed(Errno(rawValue: nameResult)) }
        pair.terminalPath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            for descriptor in [controller, terminal] {
                _ = try checkedSyscall { fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            }
            let flags = try checkedSyscall { fcntl(controller, F_GETFL) }
            _ = try checkedSyscall { fcntl(controller, F_SETFL, flags | O_NONBLOCK) }
        } catch {
            throw .pseudoTerminalFailed(error)
        }
        return pair
    }

    /// The baud rate and parity the terminal side's client (a master) set, or nil once closed.
    ///
    /// On Linux `tcgetattr` on the controller side reports the terminal side's termios, so a
    /// simulated device can see what a master chose. The pty driver clears PARENB (it has no
    /// framing), so parity is read from what survives: INPCK (input parity checking, which
    /// modbridge sets with parity, as most programs do) and PARODD.
    package func terminalLine() -> (baudRate: Int?, parity: Parity)? {
        guard controller >= 0 else { return nil }
        var attributes = termios()
        guard (try? checkedSyscall { tcgetattr(controller, &attributes) }) != nil else { return nil }
        let readback = Termios.readback(attributes)
        let checksParity = attributes.c_cflag & tcflag_t(PARENB) != 0 || attributes.c_iflag & tcflag_t(INPCK) != 0
        let parity: Parity = !checksParity ? .none : attributes.c_cflag & tcflag_t(PARODD) != 0 ? .odd : .even
        return (readback.outputBaudRate, parity)
    }

    /// Closes both sides; a client holding the terminal then reads EIO, as from an unplugged adapter.
    package func close() {
        if controller >= 0 { _ = Glibc.close(controller); controller = -1 }
        if terminal >= 0 { _ = Glibc.close(terminal); terminal = -1 }
    }
}
