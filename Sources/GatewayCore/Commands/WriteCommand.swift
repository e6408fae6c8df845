import Mapping
import Modbus
import POSIX

/// `modbridge write`: writes coils or holding registers.
package struct WriteCommand: Command {
    package static let name = "write"
    package static let summary = "write coils or holding registers"
    package static let help = """
    Usage: modbridge write <target> --unit N --table coils|holding --address A --value V[,V...]
                           [--type T] [--order O] [--multiple] [line options]

    One value is written with function 05 (coil) or 06 (register), several with 15 or 16.

      --unit N                 unit id, 1-247, or 0 to broadcast (RTU only; no answer comes back)
      --table T                coils or holding
      --address A              first 0-based wire address, 0-65535
      --value V[,V...]         coils: 1, 0, true, false, on, off; registers: numbers of --type
                               (without --type: -32768...65535, negatives stored as int16)
      --type T                 int16, uint16, int32, uint32, int64, uint64, float32, float64
      --order O                byte and word order: abcd (default), cdab, badc, dcba
      --multiple               use function 15 or 16 even for one value (devices without 05/06)
    \(LineOptions.help)

    Exit status: 0 written, 1 Modbus or line error, 64 bad arguments.
    """

    package let line: LineOptions
    package let unit: UInt8
    package let table: RegisterTable
    package let address: UInt16
    package let valueTexts: [String]
    package let type: RegisterValueType?
    package let order: RegisterOrder
    package let multiple: Bool

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        unit = try arguments.requiredInteger("unit", in: UInt8(0)...ModbusRequest.Limits.highestUnit, "1-247, or 0 to broadcast")
        table = try arguments.requiredChoice("table", of: RegisterTable.self, "coils, holding")
        address = try arguments.requiredInteger("address", in: UInt16.min...UInt16.max, "0-65535")
        let values = try arguments.required("value")
        valueTexts = values.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        type = try arguments.choice("type", of: RegisterValueType.self)
        order = try arguments.registerOrder()
        multiple = arguments.flag("multiple")
        line = try LineOptions(parsing: &arguments)
    }

    package func validate() throws(UsageError) {
        _ = try request()
    }

    /// The request the arguments describe, or the usage error that says why there is none.
    package func request() throws(UsageError) -> ModbusRequest {
        func bad(_ argument: String, _ message: String) -> UsageError {
            UsageError(command: Self.name, argument: argument, message: message)
        }
        guard table.isWritable else { throw bad("--table", "\(table.rawValue) is read-only; write coils or holding") }
        if unit == 0 && !line.configuration.target.allowsBroadcast {
            throw bad("--unit", "0 (broadcast) exists on RTU lines only")
        }
        if table == .coils {
            if type != nil { throw bad("--type", "applies to holding registers, not coils") }
            var bits: [Bool] = []
            for text in valueTexts {
                switch text.lowercased() {
                case "1", "true", "on": bits.append(true)
                case "0", "false", "off": bits.append(false)
                default: throw bad("--value", "'\(text)' is not a coil value (1, 0, true, false, on, off)")
                }
            }
            guard bits.count <= ModbusRequest.Limits.coilsPerWrite else {
                throw bad("--value", "\(bits.count) coils exceeds the protocol limit of \(ModbusRequest.Limits.coilsPerWrite) per write")
            }
            guard Int(address) + bits.count <= 65536 else { throw bad("--value", "address \(address) + \(bits.count) runs past 65535") }
            if bits.count == 1 && !multiple { return .writeSingleCoil(address: address, value: bits[0]) }
            return .writeMultipleCoils(address: address, values: bits)
        }
        var registers: [UInt16] = []
        for text in valueTexts {
            do {
                if let type {
                    registers += try RegisterCodec.encode(text, as: type, order: order)
                } else if let number = Int(text), number < 0 {
                    registers += try RegisterCodec.encode(text, as: .int16, order: order)
                } else {
                    registers += try RegisterCodec.encode(text, as: .uint16, order: order)
                }
            } catch {
                throw bad("--value", error.message)
            }
        }
        guard registers.count <= ModbusRequest.Limits.registersPerWrite else {
            throw bad("--value", "\(registers.count) registers exceeds the protocol limit of \(ModbusRequest.Limits.registersPerWrite) per write")
        }
        guard Int(address) + registers.count <= 65536 else { throw bad("--value", "address \(address) + \(registers.count) runs past 65535") }
        if registers.count == 1 && !multiple { return .writeSingleRegister(address: address, value: registers[0]) }
        return .writeMultipleRegisters(address: address, values: registers)
    }

    package func run(logger: Logger) async -> Int32 {
        let request: ModbusRequest
        do {
            request = try self.request()
        } catch {
            logger.flush()
            Output.error("\(error)")
            return ExitStatus.usage
        }
        let bus: Bus
        do {
            bus = try line.openBus(continuous: false, logger: logger)
        } catch {
            logger.flush()
            Output.error("modbridge write: \(error)")
            return ExitStatus.failure
        }
        let result: Result<ModbusResponse, ModbusError>
        do {
            result = .success(try await bus.perform(request, unit: unit))
        } catch {
            result = .failure(error)
        }
        await bus.close()
        if case let .failure(error) = result {
            logger.flush()
            Output.error("modbridge write: \(error)")
            return ExitStatus.failure
        }
        let target = unit == 0 ? "broadcast" : "unit \(unit)"
        Output.print("wrote \(request.summary.replacingPrefix("write ", with: "")) on \(target)")
        return ExitStatus.success
    }
}

private extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
