import Mapping
import Modbus

/// One step of carrying out validated writes on a device.
package enum WriteStep: Equatable {
    case request(ModbusRequest)
    /// Read the holding register, change one bit, write it back (no FC22 on most controllers).
    case setBit(address: UInt16, bit: Int, value: Bool)
}

/// A validated write and the point (or command point) it is for.
package struct NamedWrite: Equatable {
    package let name: String
    package let write: RegisterWrite

    package init(name: String, write: RegisterWrite) {
        self.name = name
        self.write = write
    }
}

/// Validated writes → the fewest requests the device allows: adjacent registers (or coils) joined
/// into one FC16 (FC15) up to the device's write limit when it takes them, FC06 (FC05) otherwise.
package enum WritePlan {
    /// The steps, each with the names of the writes it completes (a name whose registers span
    /// several FC06 steps is listed with the last of them).
    package static func steps(for writes: [NamedWrite], limits: DeviceLimits) -> [(step: WriteStep, names: [String])] {
        var registers: [(address: Int, values: [UInt16], names: [String])] = []
        var coils: [(address: Int, values: [Bool], names: [String])] = []
        var bits: [(step: WriteStep, names: [String])] = []
        for named in writes.sorted(by: { $0.write.address < $1.write.address }) {
            switch named.write {
            case let .registers(address, values):
                if let last = registers.last, limits.writeMultiple, last.address + last.values.count == address,
                   last.values.count + values.count <= limits.maxRegistersPerWrite {
                    registers[registers.count - 1].values += values
                    registers[registers.count - 1].names.append(named.name)
                } else {
                    registers.append((address, values, [named.name]))
                }
            case let .coil(address, value):
                if let last = coils.last, limits.writeMultiple, last.address + last.values.count == address,
                   last.values.count < limits.maxBitsPerWrite {
                    coils[coils.count - 1].values.append(value)
                    coils[coils.count - 1].names.append(named.name)
                } else {
                    coils.append((address, [value], [named.name]))
                }
            case let .registerBit(address, bit, value):
                bits.append((.setBit(address: UInt16(address), bit: bit, value: value), [named.name]))
            }
        }
        var steps: [(step: WriteStep, names: [String])] = []
        for run in registers {
            let requests = registerRequests(address: run.address, values: run.values, limits: limits)
            for (index, request) in requests.enumerated() {
                steps.append((.request(request), index == requests.count - 1 ? run.names : []))
            }
        }
        for run in coils {
            if run.values.count == 1 && limits.writeSingle {
                steps.append((.request(.writeSingleCoil(address: UInt16(run.address), value: run.values[0])), run.names))
            } else {
                steps.append((.request(.writeMultipleCoils(address: UInt16(run.address), values: run.values)), run.names))
            }
        }
        return steps + bits
    }

    /// Registers from `address`: one FC16 where allowed (in pieces of the write limit), or FC06 each.
    static func registerRequests(address: Int, values: [UInt16], limits: DeviceLimits) -> [ModbusRequest] {
        if values.count == 1 && limits.writeSingle || !limits.writeMultiple {
            return values.enumerated().map { .writeSingleRegister(address: UInt16(address + $0.offset), value: $0.element) }
        }
        return stride(from: 0, to: values.count, by: limits.maxRegistersPerWrite).map { start in
            let end = min(values.count, start + limits.maxRegistersPerWrite)
            return .writeMultipleRegisters(address: UInt16(address + start), values: Array(values[start..<end]))
        }
    }
}
