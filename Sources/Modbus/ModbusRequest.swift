/// One Modbus transaction a master sends (addresses are 0-based wire addresses).
package enum ModbusRequest: Sendable, Equatable {
    case readCoils(address: UInt16, count: Int)
    case readDiscreteInputs(address: UInt16, count: Int)
    case readHoldingRegisters(address: UInt16, count: Int)
    case readInputRegisters(address: UInt16, count: Int)
    case writeSingleCoil(address: UInt16, value: Bool)
    case writeSingleRegister(address: UInt16, value: UInt16)
    case writeMultipleCoils(address: UInt16, values: [Bool])
    case writeMultipleRegisters(address: UInt16, values: [UInt16])
    case readWriteMultipleRegisters(readAddress: UInt16, readCount: Int, writeAddress: UInt16, values: [UInt16])

    /// Protocol limits (Modbus Application Protocol v1.1b3, section 6).
    package enum Limits {
        package static let bitsPerRead = 2000
        package static let coilsPerWrite = 1968
        package static let registersPerRead = 125
        package static let registersPerWrite = 123
        package static let registersPerReadWriteWrite = 121
        package static let highestUnit: UInt8 = 247
        package static let broadcastUnit: UInt8 = 0
    }

    /// The function code on the wire.
    package var functionCode: UInt8 {
        switch self {
        case .readCoils: 1
        case .readDiscreteInputs: 2
        case .readHoldingRegisters: 3
        case .readInputRegisters: 4
        case .writeSingleCoil: 5
        case .writeSingleRegister: 6
        case .writeMultipleCoils: 15
        case .writeMultipleRegisters: 16
        case .readWriteMultipleRegisters: 23
        }
    }

    /// Writes change the device; the bus runs them ahead of reads.
    package var isWrite: Bool {
        switch self {
        case .readCoils, .readDiscreteInputs, .readHoldingRegisters, .readInputRegisters: false
        default: true
        }
    }

    /// `read holding registers 100+10` style description for logs and errors.
    package var summary: String {
        switch self {
        case let .readCoils(address, count): "read coils \(address)+\(count)"
        case let .readDiscreteInputs(address, count): "read discrete inputs \(address)+\(count)"
        case let .readHoldingRegisters(address, count): "read holding registers \(address)+\(count)"
        case let .readInputRegisters(address, count): "read input registers \(address)+\(count)"
        case let .writeSingleCoil(address, _): "write coil \(address)"
        case let .writeSingleRegister(address, _): "write register \(address)"
        case let .writeMultipleCoils(address, values): "write coils \(address)+\(values.count)"
        case let .writeMultipleRegisters(address, values): "write registers \(address)+\(values.count)"
        case let .readWriteMultipleRegisters(readAddress, readCount, writeAddress, values):
            "read/write registers \(readAddress)+\(readCount) / \(writeAddress)+\(values.count)"
        }
    }

    /// The reason this request may not be sent to `unit`, or nil if it may.
    package func violation(unit: UInt8, broadcastAllowed: Bool) -> String? {
        if unit == Limits.broadcastUnit {
            if !isWrite || self.isReadWrite { return "unit 0 is the broadcast address: writes only" }
            if !broadcastAllowed { return "broadcast (unit 0) is for RTU lines only" }
        } else if unit > Limits.highestUnit {
            return "unit id \(unit) out of range 1...\(Limits.highestUnit)"
        }
        switch self {
        case let .readCoils(address, count), let .readDiscreteInputs(address, count):
            return Self.rangeViolation(address: address, count: count, limit: Limits.bitsPerRead, what: "bits per read")
        case let .readHoldingRegisters(address, count), let .readInputRegisters(address, count):
            return Self.rangeViolation(address: address, count: count, limit: Limits.registersPerRead, what: "registers per read")
        case .writeSingleCoil, .writeSingleRegister:
            return nil
        case let .writeMultipleCoils(address, values):
            return Self.rangeViolation(address: address, count: values.count, limit: Limits.coilsPerWrite, what: "coils per write")
        case let .writeMultipleRegisters(address, values):
            return Self.rangeViolation(address: address, count: values.count, limit: Limits.registersPerWrite, what: "registers per write")
        case let .readWriteMultipleRegisters(readAddress, readCount, writeAddress, values):
            return Self.rangeViolation(address: readAddress, count: readCount, limit: Limits.registersPerRead, what: "registers per read")
                ?? Self.rangeViolation(address: writeAddress, count: values.count, limit: Limits.registersPerReadWriteWrite, what: "registers per write in a read/write")
        }
    }

    private var isReadWrite: Bool {
        if case .readWriteMultipleRegisters = self { return true }
        return false
    }

    private static func rangeViolation(address: UInt16, count: Int, limit: Int, what: String) -> String? {
        if count < 1 || count > limit { return "count \(count) outside 1...\(limit) \(what)" }
        if Int(address) + count > 65536 { return "address \(address) + count \(count) runs past 65535" }
        return nil
    }
}

/// What a device answered.
package enum ModbusResponse: Sendable, Equatable {
    /// Coils or discrete inputs, one per address asked.
    case bits([Bool])
    /// Registers, one per address asked.
    case registers([UInt16])
    /// A write was confirmed (or, for a broadcast, sent).
    case written

    /// The registers, or nil for another kind of answer.
    package var registers: [UInt16]? {
        if case let .registers(values) = self { return values }
        return nil
    }

    /// The bits, or nil for another kind of answer.
    package var bits: [Bool]? {
        if case let .bits(values) = self { return values }
        return nil
    }
}
