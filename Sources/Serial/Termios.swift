import Glibc

/// What the driver reports for an open line (`tcgetattr`), to check that settings took effect.
package struct TermiosReadback: Equatable, Sendable {
    package var inputBaudRate: Int?
    package var outputBaudRate: Int?
    package var dataBits: DataBits?
    package var parity: Parity
    package var stopBits: StopBits
    /// No canonical mode, echo, signal keys, output processing or input translation; VMIN = VTIME = 0.
    package var isRaw: Bool
    /// CREAD: the receiver is on.
    package var receiverEnabled: Bool
    /// CLOCAL: modem control lines are ignored.
    package var ignoresModemControl: Bool
    /// CRTSCTS: hardware flow control (must be off: RS-485 uses RTS for direction).
    package var hardwareFlowControl: Bool
}

/// Conversions between `SerialSettings` and the termios structure.
enum Termios {
    /// The termios constant of each rate: a switch, so that a rate added to `BaudRate` without
    /// its constant does not compile.
    static func speed(for baudRate: BaudRate) -> speed_t {
        let constant: Int32 = switch baudRate {
        case .b1200: B1200
        case .b2400: B2400
        case .b4800: B4800
        case .b9600: B9600
        case .b19200: B19200
        case .b38400: B38400
        case .b57600: B57600
        case .b115200: B115200
        case .b230400: B230400
        }
        return speed_t(constant)
    }

    static func baudRate(for speed: speed_t) -> Int? {
        BaudRate.allCases.first { Self.speed(for: $0) == speed }?.rawValue
    }

    /// termios flag constants come into Swift with mixed integer types.
    private static func flag(_ value: some BinaryInteger) -> tcflag_t { tcflag_t(truncatingIfNeeded: value) }

    private static let rawLocalFlags = tcflag_t(ICANON | ECHO | ECHONL | ISIG | IEXTEN)
    private static let rawInputFlags = tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF)

    /// Applies raw mode and the line settings to `attributes` (the caller writes them back).
    static func configure(_ attributes: inout termios, for settings: SerialSettings) {
        cfmakeraw(&attributes)
        attributes.c_iflag &= ~rawInputFlags
        attributes.c_oflag &= ~tcflag_t(OPOST)
        attributes.c_lflag &= ~rawLocalFlags
        let lineFlags: tcflag_t = flag(CSIZE) | flag(PARENB) | flag(PARODD) | flag(CSTOPB) | flag(CRTSCTS) | flag(CMSPAR)
        attributes.c_cflag &= ~lineFlags
        attributes.c_cflag |= tcflag_t(CLOCAL | CREAD)
        attributes.c_cflag |= tcflag_t(settings.dataBits == .seven ? CS7 : CS8)
        switch settings.parity {
        case .none:
            attributes.c_iflag &= ~tcflag_t(INPCK)
        case .even:
            attributes.c_cflag |= tcflag_t(PARENB)
            attributes.c_iflag |= tcflag_t(INPCK)
        case .odd:
            attributes.c_cflag |= tcflag_t(PARENB | PARODD)
            attributes.c_iflag |= tcflag_t(INPCK)
        }
        if settings.stopBits == .two { attributes.c_cflag |= tcflag_t(CSTOPB) }
        // Non-blocking reads: libmodbus and the simulator wait with select/poll.
        withUnsafeMutableBytes(of: &attributes.c_cc) { controlCharacters in
            controlCharacters[Int(VMIN)] = 0
            controlCharacters[Int(VTIME)] = 0
        }
        let speed = speed(for: settings.baudRate)
        cfsetispeed(&attributes, speed)
        cfsetospeed(&attributes, speed)
    }

    static func readback(_ attributes: termios) -> TermiosReadback {
        var attributes = attributes
        let size = attributes.c_cflag & tcflag_t(CSIZE)
        let dataBits: DataBits? = size == tcflag_t(CS8) ? .eight : size == tcflag_t(CS7) ? .seven : nil
        let parity: Parity
        if attributes.c_cflag & tcflag_t(PARENB) == 0 {
            parity = .none
        } else {
            parity = attributes.c_cflag & tcflag_t(PARODD) == 0 ? .even : .odd
        }
        let (minimum, time) = withUnsafeBytes(of: &attributes.c_cc) { ($0[Int(VMIN)], $0[Int(VTIME)]) }
        let noLocalProcessing: Bool = attributes.c_lflag & rawLocalFlags == 0
        let noInputProcessing: Bool = attributes.c_iflag & rawInputFlags == 0
        let noOutputProcessing: Bool = attributes.c_oflag & tcflag_t(OPOST) == 0
        let returnsAtOnce: Bool = minimum == 0 && time == 0
        let isRaw = noLocalProcessing && noInputProcessing && noOutputProcessing && returnsAtOnce
        return TermiosReadback(
            inputBaudRate: baudRate(for: cfgetispeed(&attributes)),
            outputBaudRate: baudRate(for: cfgetospeed(&attributes)),
            dataBits: dataBits,
            parity: parity,
            stopBits: attributes.c_cflag & tcflag_t(CSTOPB) == 0 ? .one : .two,
            isRaw: isRaw,
            receiverEnabled: attributes.c_cflag & tcflag_t(CREAD) != 0,
            ignoresModemControl: attributes.c_cflag & tcflag_t(CLOCAL) != 0,
            hardwareFlowControl: attributes.c_cflag & tcflag_t(CRTSCTS) != 0
        )
    }
}
