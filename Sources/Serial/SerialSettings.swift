/// A baud rate modbridge configures: the one list of them. The config parser, the command line,
/// the termios layer and (checked by a test) `schemas/config.schema.json` all take it from here;
/// any other value is refused where it enters, never replaced by a default.
package enum BaudRate: Int, CaseIterable, Sendable, CustomStringConvertible {
    case b1200 = 1200, b2400 = 2400, b4800 = 4800, b9600 = 9600, b19200 = 19200
    case b38400 = 38400, b57600 = 57600, b115200 = 115200, b230400 = 230400

    /// The rates, in increasing order; others are refused when parsing a setting.
    package static let supported: [Int] = allCases.map(\.rawValue)

    /// `1200, 2400, …, 230400`, for messages that list what is accepted.
    package static var supportedList: String { supported.map(String.init).joined(separator: ", ") }

    package var description: String { String(rawValue) }
}

/// Parity of each character on the line.
package enum Parity: String, Sendable, CaseIterable {
    case none, even, odd

    /// The letter libmodbus and most tools use: N, E or O.
    package var letter: Character {
        switch self {
        case .none: "N"
        case .even: "E"
        case .odd: "O"
        }
    }
}

/// Data bits per character.
package enum DataBits: Int, Sendable, CaseIterable {
    case seven = 7, eight = 8
}

/// Stop bits per character.
package enum StopBits: Int, Sendable, CaseIterable {
    case one = 1, two = 2
}

/// How a port uses the kernel's RS-485 mode (`TIOCSRS485`).
package enum RS485Mode: String, Sendable, CaseIterable {
    /// Leave the driver's RS-485 mode off (RS-232, or an adapter that switches direction itself).
    case off
    /// Require RS-485 mode; opening fails where the driver has none.
    case on
    /// Use RS-485 mode where the driver has it; a driver without it is a warning, not a failure.
    case auto
}

/// RS-485 direction control by the kernel driver: RTS drives the transceiver's enable pin.
package struct RS485Settings: Equatable, Sendable {
    package var mode: RS485Mode
    /// RTS is asserted while sending (the usual wiring); false inverts it.
    package var rtsOnSend: Bool
    /// Milliseconds between raising RTS and the first bit.
    package var delayBeforeSendMilliseconds: UInt32
    /// Milliseconds between the last bit and dropping RTS.
    package var delayAfterSendMilliseconds: UInt32

    package init(
        mode: RS485Mode = .auto,
        rtsOnSend: Bool = true,
        delayBeforeSendMilliseconds: UInt32 = 0,
        delayAfterSendMilliseconds: UInt32 = 0
    ) {
        self.mode = mode
        self.rtsOnSend = rtsOnSend
        self.delayBeforeSendMilliseconds = delayBeforeSendMilliseconds
        self.delayAfterSendMilliseconds = delayAfterSendMilliseconds
    }
}

/// Everything needed to configure one serial line.
package struct SerialSettings: Equatable, Sendable {
    package var baudRate: BaudRate
    package var dataBits: DataBits
    package var parity: Parity
    package var stopBits: StopBits
    package var rs485: RS485Settings

    package init(
        baudRate: BaudRate = .b9600,
        dataBits: DataBits = .eight,
        parity: Parity = .none,
        stopBits: StopBits = .one,
        rs485: RS485Settings = RS485Settings()
    ) {
        self.baudRate = baudRate
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.rs485 = rs485
    }

    /// Bits on the wire per character: start bit, data bits, parity bit if any, stop bits.
    package var bitsPerCharacter: Int {
        1 + dataBits.rawValue + (parity == .none ? 0 : 1) + stopBits.rawValue
    }

    /// Time one character takes on the wire.
    package var characterTime: Duration {
        .nanoseconds(Int64(bitsPerCharacter) * 1_000_000_000 / Int64(baudRate.rawValue))
    }

    /// The silence that must separate two Modbus RTU frames: 3.5 character times, and a fixed
    /// 1.75 ms above 19200 baud (Modbus over Serial Line, 2.5.1.1).
    package var interFrameSilence: Duration {
        if baudRate.rawValue > 19200 { return .microseconds(1750) }
        return .nanoseconds(Int64(bitsPerCharacter) * 3_500_000_000 / Int64(baudRate.rawValue))
    }

    /// `9600 8N1` style summary.
    package var summary: String {
        "\(baudRate) \(dataBits.rawValue)\(parity.letter)\(stopBits.rawValue)"
    }
}
