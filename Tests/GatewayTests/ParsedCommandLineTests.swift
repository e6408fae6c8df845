import GatewayCore
import Mapping
import Modbus
import Serial
import Testing

/// The command line parsed in process (`Modbridge.parse`), without spawning the binary: the
/// options each command ends up with, and the usage errors (exit status 64) naming the argument.
@Suite("modbridge command line parsed in process")
struct ParsedCommandLineTests {
    /// The command `arguments` parse to; an error says what they parsed to instead.
    private func command<Parsed: Command>(_ arguments: [String], as type: Parsed.Type) throws -> Parsed {
        guard case let .command(command) = try Modbridge.parse(arguments) else {
            throw ParseFailure(arguments: arguments, reason: "did not parse to a command")
        }
        guard let parsed = command as? Parsed else {
            throw ParseFailure(arguments: arguments, reason: "parsed to \(Swift.type(of: command)), not \(Parsed.self)")
        }
        return parsed
    }

    /// The usage error `arguments` are refused with.
    private func usageError(_ arguments: [String]) -> UsageError? {
        do {
            _ = try Modbridge.parse(arguments)
            return nil
        } catch {
            return error
        }
    }

    private struct ParseFailure: Error, CustomStringConvertible {
        let arguments: [String]
        let reason: String
        var description: String { "\(arguments): \(reason)" }
    }

    @Test("Every bad command line of the binary's test is refused in process, naming the same argument",
          arguments: CommandLineTests.badArguments)
    func badInput(arguments: [String], culprit: String) throws {
        if arguments == ["bogus"] {
            guard case .unknownCommand("bogus") = try Modbridge.parse(arguments) else {
                Issue.record("'bogus' is not reported as an unknown command")
                return
            }
            return
        }
        let error = try #require(usageError(arguments), "\(arguments) parsed without an error")
        #expect(error.command == arguments[0])
        #expect(error.argument == culprit, "\(error)")
        #expect(error.description.hasPrefix("modbridge \(arguments[0]): \(culprit): "))
    }

    @Test("read: every option lands in the parsed command; the line options in its bus configuration")
    func read() throws {
        let tcp = try command(["read", "tcp://127.0.0.1:1502", "--unit", "7", "--table", "input", "--address", "100",
                               "--count", "4", "--type", "float32", "--order", "cdab", "--timeout", "250",
                               "--byte-timeout=20", "--repeat", "0.5", "--polls", "3"], as: ReadCommand.self)
        #expect(tcp.unit == 7)
        #expect(tcp.table == .inputRegisters)
        #expect(tcp.address == 100)
        #expect(tcp.count == 4)
        #expect(tcp.type == .float32)
        #expect(tcp.order == RegisterOrder(notation: "cdab"))
        #expect(tcp.interval == .milliseconds(500))
        #expect(tcp.polls == 3)
        #expect(tcp.line.configuration.target == .tcp(host: "127.0.0.1", port: 1502))
        #expect(tcp.line.configuration.responseTimeout == .milliseconds(250))
        #expect(tcp.line.configuration.byteTimeout == .milliseconds(20))

        let rtu = try command(["read", "/dev/ttyUSB0", "--unit", "1", "--table", "coils", "--address", "0",
                               "--baud", "19200", "--parity", "even", "--stop-bits", "2", "--data-bits", "7", "--rs485", "off"],
                              as: ReadCommand.self)
        let serial = SerialSettings(baudRate: .b19200, dataBits: .seven, parity: .even, stopBits: .two, rs485: RS485Settings(mode: .off))
        #expect(rtu.line.configuration.target == .rtu(path: "/dev/ttyUSB0", settings: serial))
        // Defaults: one value, uint16 big-endian, one read, 500 ms / 100 ms timeouts.
        #expect(rtu.count == 1)
        #expect(rtu.type == nil)
        #expect(rtu.order == .bigEndian)
        #expect(rtu.interval == nil)
        #expect(rtu.line.configuration.responseTimeout == .milliseconds(500))
        #expect(rtu.line.configuration.byteTimeout == .milliseconds(100))
    }

    @Test("write: the values become the request the device is sent, FC05/06 for one value, FC15/16 for several")
    func write() throws {
        let floats = try command(["write", "tcp://plc", "--unit", "3", "--table", "holding", "--address", "10",
                                  "--value", "1.5,-2", "--type", "float32"], as: WriteCommand.self)
        #expect(floats.valueTexts == ["1.5", "-2"])
        #expect(floats.line.configuration.target == .tcp(host: "plc", port: 502))
        // IEEE 754: 1.5 = 0x3FC00000, -2 = 0xC0000000, high word first (abcd).
        #expect(try floats.request() == .writeMultipleRegisters(address: 10, values: [0x3FC0, 0x0000, 0xC000, 0x0000]))

        let negative = try command(["write", "/dev/ttyS0", "--unit", "0", "--table", "holding", "--address", "5", "--value", "-1"],
                                   as: WriteCommand.self)
        #expect(negative.unit == 0)  // broadcast, allowed on RTU
        #expect(try negative.request() == .writeSingleRegister(address: 5, value: 0xFFFF))

        let coils = try command(["write", "/dev/ttyS0", "--unit", "1", "--table", "coils", "--address", "3", "--value", "on,0,TRUE"],
                                as: WriteCommand.self)
        #expect(try coils.request() == .writeMultipleCoils(address: 3, values: [true, false, true]))
        let forced = try command(["write", "/dev/ttyS0", "--unit", "1", "--table", "coils", "--address", "3", "--value", "1", "--multiple"],
                                 as: WriteCommand.self)
        #expect(forced.multiple)
        #expect(try forced.request() == .writeMultipleCoils(address: 3, values: [true]))
    }

    @Test("run and check: the config file, as an option or a positional argument")
    func runAndCheck() throws {
        #expect(try command(["run", "--config", "/etc/modbridge.json"], as: RunCommand.self).configFile == "/etc/modbridge.json")
        #expect(try command(["run", "plant.json"], as: RunCommand.self).configFile == "plant.json")
        #expect(try command(["run", "plant.json"], as: RunCommand.self).quiet == false)
        let quiet = try command(["run", "--quiet", "--config", "plant.json"], as: RunCommand.self)
        #expect(quiet.quiet && quiet.configFile == "plant.json")
        #expect(usageError(["run"])?.argument == "--config CONFIG")
        #expect(usageError(["run", "--config", "a.json", "b.json"])?.argument == "b.json")

        let check = try command(["check", "--plan", "plant.json"], as: CheckCommand.self)
        #expect(check.configFile == "plant.json")
        #expect(check.listsPlan)
        #expect(try !command(["check", "plant.json"], as: CheckCommand.self).listsPlan)
        #expect(usageError(["check"])?.argument == "CONFIG")
        #expect(usageError(["check", "--plans", "plant.json"])?.argument == "--plans")
    }

    @Test("broker: listener, storage and limits land in its broker configuration; contradicting limits are refused")
    func broker() throws {
        let broker = try command(["broker", "--host", "0.0.0.0", "--port", "0", "--storage", "/var/lib/modbridge",
                                  "--max-message-size", "1024", "--max-inflight", "5", "--max-queued", "7",
                                  "--max-pending-bytes", "4096", "--sync-interval", "200", "--quiet"], as: BrokerCommand.self)
        #expect(broker.configuration.host == "0.0.0.0")
        #expect(broker.configuration.port == 0)
        #expect(broker.configuration.storageDirectory == "/var/lib/modbridge")
        #expect(broker.configuration.maximumMessageSize == 1024)
        #expect(broker.configuration.maximumInflightMessages == 5)
        #expect(broker.configuration.maximumQueuedMessages == 7)
        #expect(broker.configuration.maximumPendingBytes == 4096)
        #expect(broker.configuration.syncInterval == .milliseconds(200))
        #expect(broker.quiet)
        let defaults = try command(["broker"], as: BrokerCommand.self)
        #expect(defaults.configuration.port == 1883)
        #expect(defaults.configuration.storageDirectory == nil)
        #expect(!defaults.quiet)

        #expect(usageError(["broker", "--port", "65536"])?.argument == "--port")
        // Each within its own range, together past the 65535 packet identifiers of a session.
        let limits = usageError(["broker", "--max-inflight", "60000", "--max-queued", "6000"])
        #expect(limits?.argument == "limits")
        #expect(limits?.message.contains("maximumQueuedMessages") == true)
    }

    @Test("simulate: units in the order given, a TCP port or a pty link")
    func simulate() throws {
        let tcp = try command(["simulate", "--unit", "3,1,7", "--tcp", "0"], as: SimulateCommand.self)
        #expect(tcp.units == [3, 1, 7])
        #expect(tcp.tcpPort == 0)
        #expect(tcp.linkPath == nil)
        let pty = try command(["simulate", "--link", "/tmp/modbridge-tty"], as: SimulateCommand.self)
        #expect(pty.units == [1])
        #expect(pty.linkPath == "/tmp/modbridge-tty")
        #expect(pty.tcpPort == nil)
        #expect(usageError(["simulate", "--unit", "2,2"])?.argument == "--unit")
        #expect(usageError(["simulate", "--link", "tty"])?.argument == "--link")
    }

    @Test("--framing on read, write and simulate; rtu+tcp:// targets; ASCII refused where no serial line is")
    func framing() throws {
        let ascii = try command(["read", "/dev/ttyUSB0", "--unit", "1", "--table", "holding", "--address", "0",
                                 "--framing", "ascii", "--data-bits", "7", "--parity", "even"], as: ReadCommand.self)
        #expect(ascii.line.configuration.framing == .ascii)
        let write = try command(["write", "/dev/ttyS0", "--unit", "1", "--table", "holding", "--address", "0", "--value", "1",
                                 "--framing", "ascii"], as: WriteCommand.self)
        #expect(write.line.configuration.framing == .ascii)
        let server = try command(["read", "rtu+tcp://nport:4001", "--unit", "2", "--table", "input", "--address", "0"], as: ReadCommand.self)
        #expect(server.line.configuration.target == .rtuOverTCP(host: "nport", port: 4001))
        #expect(server.line.configuration.framing == .rtu)
        #expect(usageError(["read", "rtu+tcp://nport:4001", "--unit", "2", "--table", "input", "--address", "0", "--framing", "ascii"])?
            .argument == "--framing")
        #expect(usageError(["read", "tcp://plc", "--unit", "2", "--table", "input", "--address", "0", "--framing", "ascii"])?
            .argument == "--framing")
        #expect(usageError(["read", "rtu+tcp://nport", "--unit", "2", "--table", "input", "--address", "0"])?.argument == "rtu+tcp://nport")
        #expect(usageError(["read", "/dev/ttyS0", "--unit", "2", "--table", "input", "--address", "0", "--framing", "hex"])?
            .argument == "--framing")

        let simulator = try command(["simulate", "--framing", "ascii", "--link", "/tmp/modbridge-tty"], as: SimulateCommand.self)
        #expect(simulator.framing == .ascii)
        let deviceServer = try command(["simulate", "--rtu-tcp", "0"], as: SimulateCommand.self)
        #expect(deviceServer.rtuOverTCPPort == 0)
        #expect(usageError(["simulate", "--rtu-tcp", "0", "--framing", "ascii"])?.argument == "--framing")
        #expect(usageError(["simulate", "--rtu-tcp", "0", "--tcp", "0"])?.argument == "--rtu-tcp")
    }

    @Test("No command, --help and a command's --help parse to what main prints, running nothing")
    func helpAndOverview() throws {
        guard case .missingCommand = try Modbridge.parse([]) else { Issue.record("[] is not a missing command"); return }
        for arguments in [["--help"], ["-h"], ["help"]] {
            guard case let .help(text) = try Modbridge.parse(arguments) else { Issue.record("\(arguments) is not help"); continue }
            #expect(text == Modbridge.overview)
            for command in Modbridge.commands { #expect(text.contains("  \(command.name)")) }
        }
        // --help wins over arguments that would not parse.
        guard case let .help(text) = try Modbridge.parse(["write", "--unit", "999", "--help"]) else {
            Issue.record("write --help is not help")
            return
        }
        #expect(text == WriteCommand.help)
        #expect(text.hasPrefix("Usage: modbridge write"))
    }
}
