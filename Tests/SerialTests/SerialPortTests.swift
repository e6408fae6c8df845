import Glibc
@testable import Serial
import Testing

@Suite("Serial line: termios, exclusivity, RS-485, pty pairs")
struct SerialPortTests {
    static let lineSettings: [SerialSettings] = {
        var all: [SerialSettings] = []
        for baud in BaudRate.supported.compactMap(BaudRate.init(rawValue:)) {
            all.append(SerialSettings(baudRate: baud))
        }
        for dataBits in DataBits.allCases {
            for parity in Parity.allCases {
                for stopBits in StopBits.allCases {
                    all.append(SerialSettings(baudRate: .b19200, dataBits: dataBits, parity: parity, stopBits: stopBits))
                }
            }
        }
        return all
    }()

    @Test("Settings read back with tcgetattr equal what was asked", arguments: lineSettings)
    func readBack(settings: SerialSettings) throws {
        let pair = try PseudoTerminal.open()
        let port = try SerialPort.open(path: pair.terminalPath, settings: settings)
        #expect(port.isPseudoTerminal)
        let state = try port.readBack()
        #expect(state.inputBaudRate == settings.baudRate.rawValue)
        #expect(state.outputBaudRate == settings.baudRate.rawValue)
        // The pty driver forces 8 data bits without parity (a UART keeps what is asked; the
        // termios encoding of those is checked without a driver below).
        #expect(state.dataBits == .eight)
        #expect(state.parity == .none)
        #expect(state.stopBits == settings.stopBits)
        #expect(state.isRaw)
        #expect(state.receiverEnabled)
        #expect(state.ignoresModemControl)
        #expect(!state.hardwareFlowControl)
        port.close()
    }

    @Test("Every data bits, parity and stop bits combination encodes into termios and decodes back", arguments: lineSettings)
    func termiosEncoding(settings: SerialSettings) {
        var attributes = termios()
        // Start from a cooked terminal's flags so that raw mode has something to clear.
        attributes.c_lflag = tcflag_t(ICANON | ECHO | ISIG)
        attributes.c_iflag = tcflag_t(ICRNL | IXON)
        attributes.c_oflag = tcflag_t(OPOST)
        Termios.configure(&attributes, for: settings)
        let state = Termios.readback(attributes)
        #expect(state.inputBaudRate == settings.baudRate.rawValue)
        #expect(state.dataBits == settings.dataBits)
        #expect(state.parity == settings.parity)
        #expect(state.stopBits == settings.stopBits)
        #expect(state.isRaw)
        #expect(!state.hardwareFlowControl)
        #expect((attributes.c_iflag & tcflag_t(INPCK) != 0) == (settings.parity != .none))
    }

    @Test("A second open of the same line is refused as busy")
    func exclusive() throws {
        let pair = try PseudoTerminal.open()
        let first = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings())
        #expect(throws: SerialError.busy(path: pair.terminalPath)) {
            _ = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings())
        }
        first.close()
        // Released on close: it opens again.
        let again = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings())
        again.close()
    }

    @Test("A missing path fails with ENOENT and names the path")
    func missing() throws {
        do {
            _ = try SerialPort.open(path: "/dev/modbridge-no-such-tty", settings: SerialSettings())
            Issue.record("opened a missing path")
        } catch {
            guard case let .openFailed(path, code) = error else { Issue.record("unexpected \(error)"); return }
            #expect(path == "/dev/modbridge-no-such-tty")
            #expect(code.rawValue == ENOENT)
            #expect(error.description.contains("/dev/modbridge-no-such-tty"))
        }
    }

    @Test("A path that is not a terminal is refused")
    func notATerminal() throws {
        #expect(throws: SerialError.notATerminal(path: "/dev/null")) {
            _ = try SerialPort.open(path: "/dev/null", settings: SerialSettings())
        }
    }

    @Test("RS-485 'auto' on a driver without it is a warning; 'on' is an error; 'off' leaves it alone")
    func rs485() throws {
        let pair = try PseudoTerminal.open()
        let automatic = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings(rs485: RS485Settings(mode: .auto)))
        guard case let .unavailable(code) = automatic.rs485Status else {
            Issue.record("pty reported RS-485 status \(automatic.rs485Status)")
            return
        }
        #expect(code.rawValue == ENOTTY)
        automatic.close()

        do {
            _ = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings(rs485: RS485Settings(mode: .on, delayBeforeSendMilliseconds: 1)))
            Issue.record("RS-485 'on' accepted on a pty")
        } catch {
            guard case .rs485Unsupported(pair.terminalPath, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("RS-485"))
        }

        let off = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings(rs485: RS485Settings(mode: .off)))
        #expect(off.rs485Status == .notRequested)
        off.close()
    }

    @Test("Bytes written on one side of a pty pair arrive on the other, untranslated")
    func ptyPair() throws {
        let pair = try PseudoTerminal.open()
        let port = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings())
        // CR, LF, XON/XOFF and NUL pass unchanged in raw mode.
        let bytes: [UInt8] = [0x0D, 0x0A, 0x11, 0x13, 0x00, 0xFF, 0x03]
        #expect(write(pair.controllerDescriptor, bytes, bytes.count) == bytes.count)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16)
        for _ in 0..<100 where received.count < bytes.count {
            var waiting = pollfd(fd: port.fileDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&waiting, 1, 20)
            let count = read(port.fileDescriptor, &buffer, buffer.count)
            if count > 0 { received += buffer[0..<count] }
        }
        #expect(received == bytes)
        port.close()
    }

    @Test("Closing the pty is seen by the terminal side as EIO, like an unplugged adapter")
    func hangUp() throws {
        let pair = try PseudoTerminal.open()
        let port = try SerialPort.open(path: pair.terminalPath, settings: SerialSettings())
        pair.close()
        do {
            try port.drainUntilQuiet(quiet: .milliseconds(5), limit: .milliseconds(50))
            Issue.record("a hung-up line read as quiet")
        } catch {
            guard case let .ioFailed(_, _, code) = error else { Issue.record("unexpected \(error)"); return }
            #expect(code.meansDeviceGone)
        }
        port.close()
    }

    @Test("t3.5: 3.5 character times up to 19200 baud, 1.75 ms above")
    func interFrameSilence() {
        #expect(SerialSettings(baudRate: .b9600).interFrameSilence == .nanoseconds(3_645_833))
        // 8E1 is 11 bits a character.
        #expect(SerialSettings(baudRate: .b19200, parity: .even).interFrameSilence == .nanoseconds(2_005_208))
        #expect(SerialSettings(baudRate: .b115200).interFrameSilence == .microseconds(1750))
        #expect(BaudRate(rawValue: 1200)?.rawValue == 1200)
        #expect(BaudRate(rawValue: 250000) == nil)
    }
}

extension SerialSettings: CustomTestStringConvertible {
    public var testDescription: String { summary }
}
