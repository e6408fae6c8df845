import Glibc
import Mapping
import Modbus
import Serial
import POSIX

/// The options every command that talks to a line shares: the target and how to reach it.
package struct LineOptions: Sendable {
    static let help = """
      <target>                 a tty path (/dev/ttyUSB0, or ./ttyX in the working folder),
                               tcp://host[:port] (port 502 by default), or rtu+tcp://host:port
                               (RTU frames to a serial device server in transparent mode)
      --framing F              rtu or ascii on a serial line (default rtu)
      --baud B                 \(BaudRate.supportedList) (default \(SerialSettings().baudRate))
      --parity P               none, even, odd (default none)
      --data-bits N            7 or 8 (default 8)
      --stop-bits N            1 or 2 (default 1)
      --rs485 MODE             off, on, auto: the driver's RS-485 direction control (default auto)
      --timeout MS             response timeout in milliseconds (default 500)
      --byte-timeout MS        timeout between two bytes of an answer (default 100)
      --trace                  log each request and answer in hex with timing to stderr
                               (bus_trace lines, at most 50 a second; docs/commissioning.md)
    """

    package var configuration: BusConfiguration
    /// `--trace`: each transaction's bytes go to the log.
    package var trace: Bool

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        var serial = SerialSettings()
        if let rate = try arguments.baudRate() { serial.baudRate = rate }
        if let parity = try arguments.choice("parity", of: Parity.self) { serial.parity = parity }
        if let bits = try arguments.integer("data-bits", in: 7...8) { serial.dataBits = bits == 7 ? .seven : .eight }
        if let bits = try arguments.integer("stop-bits", in: 1...2) { serial.stopBits = bits == 1 ? .one : .two }
        if let mode = try arguments.choice("rs485", of: RS485Mode.self) { serial.rs485.mode = mode }
        let responseTimeout = try arguments.milliseconds("timeout", in: 1...60_000) ?? .milliseconds(500)
        let byteTimeout = try arguments.milliseconds("byte-timeout", in: 1...10_000) ?? .milliseconds(100)
        trace = arguments.flag("trace")
        let framing = try arguments.choice("framing", of: LineFraming.self)

        let text = try arguments.positional("<target>")
        switch ModbusTarget.parse(try Self.absoluteTarget(text, arguments: arguments), serial: serial) {
        case let .success(target):
            if let framing, framing != .rtu, !Self.isSerial(target) {
                throw arguments.error("--framing", "\(framing.rawValue) is for a serial line; \(target) carries Modbus TCP or RTU frames")
            }
            configuration = BusConfiguration(target: target, framing: framing ?? .rtu, responseTimeout: responseTimeout, byteTimeout: byteTimeout)
        case let .failure(error):
            throw arguments.error(text, error.reason)
        }
    }

    private static func isSerial(_ target: ModbusTarget) -> Bool {
        if case .rtu = target { return true }
        return false
    }

    /// `text` with a relative tty path taken from the working folder, as a shell user means it
    /// (a `ModbusTarget` holds absolute paths only). A relative name that is nothing there is
    /// refused as a bad argument: `ttyUSB0` most likely meant `/dev/ttyUSB0`, `plc:502` `tcp://plc:502`.
    static func absoluteTarget(_ text: String, arguments: ArgumentReader) throws(UsageError) -> String {
        guard !text.isEmpty, !text.hasPrefix("/"), !text.contains("://") else { return text }
        var relative = Substring(text)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
        guard let buffer = getcwd(nil, 0) else { throw arguments.error(text, "the working folder cannot be read: \(Errno.current)") }
        let folder = String(cString: buffer)
        free(buffer)
        let path = (folder.hasSuffix("/") ? folder : folder + "/") + relative
        guard access(path, F_OK) == 0 else {
            var message = "\(path): no such file; expected a tty path (/dev/ttyUSB0, ./ttyX) or tcp://host:port"
            if access("/dev/" + text, F_OK) == 0 { message += " (did you mean /dev/\(text)?)" }
            throw arguments.error(text, message)
        }
        return path
    }

    /// A bus whose line events go to `logger`. A one-shot command (`continuous: false`) logs
    /// only warnings: its own error message says why a line did not open.
    func openBus(continuous: Bool, logger: Logger) throws(ModbusError) -> Bus {
        try Bus(configuration, trace: trace ? logger.frameTrace() : nil) { event in logger.log(event, opensAndRetries: continuous) }
    }
}

extension ArgumentReader {
    /// `--baud B`, one of the rates Serial supports; nil when absent.
    mutating func baudRate() throws(UsageError) -> BaudRate? {
        guard let baud = try integer("baud", in: 1...Int.max) else { return nil }
        guard let rate = BaudRate(rawValue: baud) else { throw error("--baud", "\(baud) is not one of \(BaudRate.supportedList)") }
        return rate
    }

    /// `--order abcd|cdab|badc|dcba`, big-endian (abcd) when absent.
    mutating func registerOrder() throws(UsageError) -> RegisterOrder {
        guard let notation = try value("order") else { return .bigEndian }
        guard let order = RegisterOrder(notation: notation) else {
            throw error("--order", "'\(notation)' is not one of abcd, cdab, badc, dcba")
        }
        return order
    }
}
