import Mapping
import Modbus
import Serial
import POSIX

/// `modbridge scan`: finds which unit ids answer on a line, and with `--baud auto` at which
/// baud rate and parity; with `--profile`, whether each device found fits that profile.
package struct ScanCommand: Command {
    package static let name = "scan"
    package static let summary = "find the unit ids (and with --baud auto the line settings) that answer on a line"
    package static let help = """
    Usage: modbridge scan <target> [--units LIST] [--timeout MS] [--baud B|auto] [--parity P|auto]
                          [--profile FILE] [--json] [line options]

    Sends one small read (holding register 0; with --profile, the profile's first planned read)
    to every candidate unit id and waits at most --timeout for each. An answer or any Modbus
    exception means a device is there; no answer means none; a CRC error or garbage means
    something is there that talks at other line settings. Prints the worst-case time first.

      --units LIST             unit ids to try: 1-247 (default), or a list of ids and ranges: 1-10,20
      --timeout MS             wait per candidate, in milliseconds (default 100)
      --baud auto              try 9600, 19200, 38400, 57600, 115200, 4800, 2400 in that order (the
                               most common first), with 8 data bits, until a unit answers; then
                               scan every unit at that setting
      --parity auto            try even, none, odd at each baud rate (even first: 8E1 is the default
                               of Modbus over Serial Line §2.5.1); the default with --baud auto
      --profile FILE           read the profile's planned requests from each device found and say,
                               per request, answered / exception 02 (address not implemented) /
                               other, and whether the device fits the profile
      --json                   print the result as one JSON document instead of a table

    Line options as for read; --timeout, --baud and --parity as above:
    \(LineOptions.help)

    Exit status: 0 a device was found, 1 none (or the line failed), 64 bad arguments.
    """

    /// The rates `--baud auto` tries, most common first.
    static let autoBaudRates: [BaudRate] = [.b9600, .b19200, .b38400, .b57600, .b115200, .b4800, .b2400]
    /// The parities `--parity auto` tries: even first, the standard's default (§2.5.1).
    static let autoParities: [Parity] = [.even, .none, .odd]

    package let line: LineOptions
    package let units: [UInt8]
    /// The line settings to try, in order; one for a fixed setting (or a TCP target).
    package let candidates: [SerialSettings]
    package let timeout: Duration
    package let profilePath: String?
    package let json: Bool
    /// `--baud auto` or `--parity auto` was asked for.
    package let searchesSettings: Bool

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        // --baud, --parity and --timeout are read here, before the line options, for their
        // `auto` values and the shorter default wait.
        let baudText = try arguments.value("baud")
        let parityText = try arguments.value("parity")
        timeout = try arguments.milliseconds("timeout", in: 1...60_000) ?? .milliseconds(100)
        units = try Self.units(try arguments.value("units") ?? "1-247", arguments: arguments)
        profilePath = try arguments.value("profile")
        json = arguments.flag("json")
        var line = try LineOptions(parsing: &arguments)
        line.configuration.responseTimeout = timeout
        line.configuration.byteTimeout = min(line.configuration.byteTimeout, timeout)

        var rates: [BaudRate]
        switch baudText {
        case "auto"?: rates = Self.autoBaudRates
        case let text?:
            guard let number = Int(text), let rate = BaudRate(rawValue: number) else {
                throw arguments.error("--baud", "'\(text)' is not auto or one of \(BaudRate.supportedList)")
            }
            rates = [rate]
        case nil: rates = [SerialSettings().baudRate]
        }
        var parities: [Parity]
        switch parityText {
        case "auto"?: parities = Self.autoParities
        case let text?:
            guard let parity = Parity(rawValue: text) else {
                throw arguments.error("--parity", "'\(text)' is not auto, none, even or odd")
            }
            parities = [parity]
        case nil: parities = baudText == "auto" ? Self.autoParities : [SerialSettings().parity]
        }
        searchesSettings = rates.count > 1 || parities.count > 1
        if case let .rtu(_, base) = line.configuration.target {
            var candidates: [SerialSettings] = []
            for rate in rates {
                for parity in parities {
                    var settings = base
                    settings.baudRate = rate
                    settings.parity = parity
                    // Auto means the common 8-bit settings: 7-bit lines are ASCII (§2.5.2).
                    if searchesSettings { settings.dataBits = .eight }
                    candidates.append(settings)
                }
            }
            self.candidates = candidates
        } else {
            if searchesSettings { throw arguments.error(baudText == "auto" ? "--baud" : "--parity", "auto applies to a serial line (a tty path)") }
            candidates = []
        }
        self.line = line
    }

    /// `1-247`, `1-10,20`: unit ids in the order given, each once.
    static func units(_ text: String, arguments: ArgumentReader) throws(UsageError) -> [UInt8] {
        var units: [UInt8] = []
        var seen = Set<UInt8>()
        let range = UInt8(1)...ModbusRequest.Limits.highestUnit
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count <= 2, let low = UInt8(bounds[0]), let high = UInt8(bounds.last ?? bounds[0]),
                  range.contains(low), range.contains(high), low <= high else {
                throw arguments.error("--units", "'\(part)' is not a unit id or range (a-b) in 1...247")
            }
            for unit in low...high where seen.insert(unit).inserted { units.append(unit) }
        }
        return units
    }
}
