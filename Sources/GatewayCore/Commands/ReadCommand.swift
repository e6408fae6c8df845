import Mapping
import Modbus
import POSIX

/// `modbridge read`: reads coils, inputs or registers and prints them like modpoll.
package struct ReadCommand: Command {
    package static let name = "read"
    package static let summary = "read coils, discrete inputs, input or holding registers"
    package static let help = """
    Usage: modbridge read <target> --unit N --table coils|discrete|input|holding --address A
                          [--count N] [--type T] [--order O] [line options] [--repeat SECONDS [--polls N]]

    Prints one value per line with its 0-based wire address: [100]: 250

      --unit N                 unit id, 1-247
      --table T                coils, discrete, input, holding
      --address A              first 0-based wire address, 0-65535
      --count N                number of values (default 1)
      --type T                 for registers: int16, uint16, int32, uint32, int64, uint64, float32,
                               float64 (default uint16)
      --order O                byte and word order of multi-register values: abcd (default), cdab,
                               badc, dcba
      --repeat SECONDS         poll again every SECONDS until interrupted; errors are printed and
                               polling goes on (the line is reopened when it comes back)
      --polls N                with --repeat: stop after N polls
    \(LineOptions.help)

    Exit status: 0 read, 1 Modbus or line error, 64 bad arguments.
    """

    package let line: LineOptions
    package let unit: UInt8
    package let table: RegisterTable
    package let address: UInt16
    package let count: Int
    package let type: RegisterValueType?
    package let order: RegisterOrder
    package let interval: Duration?
    package let polls: Int?

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        unit = try arguments.requiredInteger("unit", in: UInt8(1)...ModbusRequest.Limits.highestUnit, "1-247")
        table = try arguments.requiredChoice("table", of: RegisterTable.self, "coils, discrete, input, holding")
        address = try arguments.requiredInteger("address", in: UInt16.min...UInt16.max, "0-65535")
        count = try arguments.integer("count", in: 1...ModbusRequest.Limits.bitsPerRead) ?? 1
        type = try arguments.choice("type", of: RegisterValueType.self)
        order = try arguments.registerOrder()
        if let text = try arguments.value("repeat") {
            guard let seconds = Double(text), seconds >= 0.01, seconds <= 86_400 else {
                throw arguments.error("--repeat", "'\(text)' is not a number of seconds from 0.01 to 86400")
            }
            interval = .milliseconds(Int64(seconds * 1000))
        } else {
            interval = nil
        }
        polls = try arguments.integer("polls", in: 1...Int.max)
        line = try LineOptions(parsing: &arguments)
    }

    private var registersPerValue: Int { (type ?? .uint16).registerCount }

    package func validate() throws(UsageError) {
        if table.holdsBits {
            if type != nil { throw UsageError(command: Self.name, argument: "--type", message: "applies to input and holding registers, not \(table.rawValue)") }
        } else {
            let registers = count * registersPerValue
            if registers > ModbusRequest.Limits.registersPerRead {
                throw UsageError(command: Self.name, argument: "--count",
                                 message: "\(count) × \(registersPerValue) registers exceeds the protocol limit of \(ModbusRequest.Limits.registersPerRead) per read")
            }
        }
        let span = table.holdsBits ? count : count * registersPerValue
        if Int(address) + span > 65536 {
            throw UsageError(command: Self.name, argument: "--count", message: "address \(address) + \(span) runs past 65535")
        }
        if polls != nil && interval == nil {
            throw UsageError(command: Self.name, argument: "--polls", message: "needs --repeat")
        }
    }

    private var request: ModbusRequest {
        let span = table.holdsBits ? count : count * registersPerValue
        switch table {
        case .coils: return .readCoils(address: address, count: span)
        case .discreteInputs: return .readDiscreteInputs(address: address, count: span)
        case .inputRegisters: return .readInputRegisters(address: address, count: span)
        case .holdingRegisters: return .readHoldingRegisters(address: address, count: span)
        }
    }

    package func run(logger: Logger) async -> Int32 {
        let bus: Bus
        do {
            bus = try line.openBus(continuous: interval != nil, logger: logger)
        } catch {
            logger.flush()
            Output.error("modbridge read: \(error)")
            return ExitStatus.failure
        }
        guard let interval else {
            let status = await pollOnce(bus, logger: logger)
            await bus.close()
            return status
        }
        Signals.install()
        let polling = Task {
            var done = 0
            let clock = ContinuousClock()
            var next = clock.now
            while !Task.isCancelled {
                _ = await pollOnce(bus, logger: logger)
                done += 1
                if let polls, done >= polls { return }
                next = next.advanced(by: interval)
                if next < clock.now { next = clock.now }
                try? await Task.sleep(until: next, clock: clock)
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await polling.value }
            group.addTask { await Signals.shared.termination() }
            await group.next()
            polling.cancel()
            group.cancelAll()
        }
        await bus.close()
        return ExitStatus.success
    }

    /// One read, printed; errors go to stderr.
    private func pollOnce(_ bus: Bus, logger: Logger) async -> Int32 {
        do {
            let response = try await bus.perform(request, unit: unit)
            Output.print(format(response))
            return ExitStatus.success
        } catch {
            logger.flush()
            Output.error("modbridge read: \(error)")
            return ExitStatus.failure
        }
    }

    func format(_ response: ModbusResponse) -> String {
        var lines: [String] = []
        switch response {
        case let .bits(bits):
            for (offset, bit) in bits.enumerated() {
                lines.append("[\(Int(address) + offset)]: \(bit ? 1 : 0)")
            }
        case let .registers(registers):
            let values = RegisterCodec.decodeAll(registers, as: type ?? .uint16, order: order)
            for (index, value) in values.enumerated() {
                lines.append("[\(Int(address) + index * registersPerValue)]: \(value)")
            }
        case .written:
            break
        }
        return lines.joined(separator: "\n")
    }
}
