import Modbus
import Serial
import POSIX

/// `modbridge simulate`: runs simulated temperature controllers until interrupted.
package struct SimulateCommand: Command {
    package static let name = "simulate"
    package static let summary = "run simulated temperature controllers on a new pty or a TCP port"
    package static let help = """
    Usage: modbridge simulate [--unit N[,N...]] [--link PATH] [--framing rtu|ascii]
                              [--tcp PORT | --rtu-tcp PORT] [--baud B --parity P] [--trace]

    Serves Modbus RTU or ASCII on a new pseudo-terminal (or Modbus TCP, or RTU over TCP as a
    serial device server passes it on, on 127.0.0.1) from simulated temperature controllers,
    and prints where to connect as the first line of its output. Runs until SIGINT or SIGTERM.

      --unit N[,N...]          unit ids to simulate (default 1)
      --link PATH              also name the pty by a symbolic link at PATH (removed on exit)
      --framing F              rtu or ascii on the pty (default rtu)
      --tcp PORT               serve Modbus TCP on 127.0.0.1:PORT instead (0 picks a free port)
      --baud B, --parity P     the controllers keep these line settings (8 data bits): a master
                               that set its side of the pty otherwise gets no answer, as on a
                               real line (for trying `modbridge scan --baud auto`); default: they
                               understand whatever the master set
      --trace                  log each request received and answer given in hex (bus_trace)
      --rtu-tcp PORT           serve RTU frames over TCP on 127.0.0.1:PORT instead (a device
                               server in transparent mode; 0 picks a free port)

    Register map of each controller (0-based wire addresses, temperatures in tenths of °C):
      holding 0  set point (int16, default 650)      input 0    process value (int16)
      holding 1  run 1 / stop 0 (default 1)          input 1    output, tenths of %
      holding 2  high alarm limit (default 900)      input 2    status: bit 0 running, 1 heating, 2 alarm
                                                     input 3-4  process value, float32 ABCD
                                                     input 5-6  seconds since start, uint32 ABCD
      discrete 0 heating, discrete 1 high alarm; all other addresses below 10000 are free storage.
    """

    package let units: [UInt8]
    package let linkPath: String?
    package let tcpPort: UInt16?
    /// The controllers' own line settings, if given.
    package let lineSettings: SerialSettings?
    package let trace: Bool
    package let rtuOverTCPPort: UInt16?
    package let framing: LineFraming?

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        if let text = try arguments.value("unit") {
            var units: [UInt8] = []
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let unit = UInt8(part), (1...ModbusRequest.Limits.highestUnit).contains(unit) else {
                    throw arguments.error("--unit", "'\(part)' is not a unit id in 1...247")
                }
                guard !units.contains(unit) else { throw arguments.error("--unit", "\(unit) is listed twice") }
                units.append(unit)
            }
            self.units = units
        } else {
            units = [1]
        }
        linkPath = try arguments.value("link")
        tcpPort = try arguments.integer("tcp", in: UInt16.min...UInt16.max)
        let baud = try arguments.baudRate()
        let parity = try arguments.choice("parity", of: Parity.self)
        if baud != nil || parity != nil {
            var settings = SerialSettings()
            if let baud { settings.baudRate = baud }
            if let parity { settings.parity = parity }
            lineSettings = settings
        } else {
            lineSettings = nil
        }
        trace = arguments.flag("trace")
        rtuOverTCPPort = try arguments.integer("rtu-tcp", in: UInt16.min...UInt16.max)
        framing = try arguments.choice("framing", of: LineFraming.self)
    }

    package func validate() throws(UsageError) {
        if tcpPort != nil && rtuOverTCPPort != nil {
            throw UsageError(command: Self.name, argument: "--rtu-tcp", message: "does not go with --tcp: one server at a time")
        }
        if (tcpPort != nil || rtuOverTCPPort != nil) && linkPath != nil {
            throw UsageError(command: Self.name, argument: "--link", message: "names a pty; it does not go with --tcp or --rtu-tcp")
        }
        if (tcpPort != nil || rtuOverTCPPort != nil) && framing != nil {
            throw UsageError(command: Self.name, argument: "--framing", message: "is for the pty; --tcp is Modbus TCP and --rtu-tcp RTU")
        }
        if (tcpPort != nil || rtuOverTCPPort != nil) && (lineSettings != nil || trace) {
            throw UsageError(command: Self.name, argument: tcpPort != nil ? "--tcp" : "--rtu-tcp",
                             message: "serves TCP; --baud, --parity and --trace apply to the simulator on a pty")
        }
        if let linkPath, !linkPath.hasPrefix("/") {
            throw UsageError(command: Self.name, argument: "--link", message: "'\(linkPath)' must be an absolute path")
        }
    }

    package func run(logger: Logger) async -> Int32 {
        Signals.install()
        let controllers = units.map { SimulatedController(unit: $0) }
        let simulator: ModbusSimulator
        do {
            if let tcpPort {
                simulator = try ModbusSimulator.startTCP(controllers: controllers, port: tcpPort)
            } else if let rtuOverTCPPort {
                simulator = try ModbusSimulator.startRTUOverTCP(controllers: controllers, port: rtuOverTCPPort)
            } else {                simulator = try ModbusSimulator.startRTU(controllers: controllers, linkPath: linkPath, framing: framing ?? .rtu,
                                                         lineSettings: lineSettings, trace: trace ? logger.frameTrace() : nil)
            }
        } catch {
            logger.flush()
            Output.error("modbridge simulate: \(error)")
            return ExitStatus.failure
        }
        Output.print(simulator.address)
        logger.log(.info, "simulator_started", ["address": simulator.address,
                                                 "units": units.map(String.init).joined(separator: ",")])
        await Signals.shared.termination()
        simulator.stop()
        logger.log(.info, "simulator_stopped", ["requests": String(simulator.requests.count)])
        return ExitStatus.success
    }
}
