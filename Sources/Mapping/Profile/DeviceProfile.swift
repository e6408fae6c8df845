/// One controller model's register map (`mappings/<model>.json`), validated.
package struct DeviceProfile: Sendable, Equatable {
    /// The profile's id; devices name it in `profile`.
    package var model: String
    package var vendor: String
    package var description: String
    /// False for a profile whose facts were not checked on hardware or in the maker's manual.
    package var verified: Bool
    package var limits: DeviceLimits
    /// Readable and writable values, in file order.
    package var points: [Point]
    /// Writes made each time the unit comes online, in order.
    package var setup: [SetupWrite]
    /// Codes written to fixed addresses on command.
    package var commands: [CommandPoint]
    /// Address ranges the device does not implement: no read spans them (no exception 02).
    package var holes: [AddressHole] = []
    /// The device takes writes only: it is never polled or probed, and the answers to its writes
    /// say whether it is there. Also true for a profile without a readable point.
    package var writeOnly = false
    /// How long a command's transactions are retried after a timeout or a garbled answer before
    /// it is acknowledged as failed (a command may set its own `deadline`).
    package var writeDeadline: Duration = .seconds(5)

    /// What `writeDeadline`, and a command's own `deadline`, may be.
    package static let writeDeadlineRange = Duration.milliseconds(100)...Duration.seconds(600)

    /// Never read: `writeOnly`, or nothing to read.
    package var isWriteOnly: Bool { writeOnly || !points.contains { $0.access.isReadable } }

    /// The point called `name`.
    package func point(named name: String) -> Point? { points.first { $0.name == name } }
    /// The command point called `name`.
    package func command(named name: String) -> CommandPoint? { commands.first { $0.name == name } }
}

/// What a device accepts on the wire, beyond the protocol's own limits.
package struct DeviceLimits: Sendable, Equatable {
    package var maxRegistersPerRead = 125
    package var maxBitsPerRead = 2000
    package var maxRegistersPerWrite = 123
    package var maxBitsPerWrite = 1968
    /// FC05/FC06.
    package var writeSingle = true
    /// FC15/FC16.
    package var writeMultiple = true
    /// Acts on unit 0.
    package var broadcast = true
    /// The function that reads coils: 1 (FC01), or 2 (FC02) for devices that read every bit
    /// with FC02, such as the Delta DTB.
    package var coilReadFunction: UInt8 = 1
    /// Registers the planner may read and discard to merge two ranges.
    package var maxGap = 8
    /// Bits the planner may read and discard to merge two ranges.
    package var maxBitGap = 32
    /// How long the device takes to answer once it has seen a request end, for cycle-time
    /// predictions (`check --plan`); nil: the predictor's default.
    package var turnaround: Duration?

    package init() {}
}

/// The Modbus table a point lives in.
package enum PointTable: String, Sendable, Equatable, CaseIterable {
    case coil, discrete, input, holding

    /// Coils and discrete inputs hold bits; input and holding 16-bit registers.
    package var holdsBits: Bool { self == .coil || self == .discrete }
    /// Coils and holding registers can be written.
    package var isWritable: Bool { self == .coil || self == .holding }
}

/// How a point's raw registers or bit become a value.
package enum PointType: Sendable, Equatable {
    /// A number of `type`'s width, in `order`.
    case number(RegisterValueType, order: RegisterOrder)
    /// A coil or discrete input; or a register, non-zero being true.
    case bool
    /// One bit of a register, 0 the least significant.
    case bit(Int)
    /// `registers` registers of two characters each.
    case string(registers: Int, order: RegisterOrder)
    /// A uint16 raw value with labels.
    case enumeration(labels: [UInt16: String])
    /// A status word of `registers` (1 or 2) registers; bit number → flag name.
    case flags(registers: Int, order: RegisterOrder, names: [Int: String])

    /// Registers (or bits, for a bit table) the point occupies.
    package var width: Int {
        switch self {
        case let .number(type, _): type.registerCount
        case .bool, .bit, .enumeration: 1
        case let .string(registers, _): registers
        case let .flags(registers, _, _): registers
        }
    }

    /// A number of any width.
    package var isNumber: Bool {
        if case .number = self { return true }
        return false
    }

    /// An integer number (not a float).
    package var isInteger: Bool {
        if case let .number(kind, _) = self { return !kind.isFloat }
        return false
    }

    /// The name used in profiles.
    package var name: String {
        switch self {
        case let .number(type, _): type.rawValue
        case .bool: "bool"
        case .bit: "bit"
        case .string: "string"
        case .enumeration: "enum"
        case .flags: "flags"
        }
    }
}

/// How a raw number becomes an engineering value.
package enum PointScaling: Sendable, Equatable {
    /// value = raw × scale + offset.
    case linear(scale: Double, offset: Double)
    /// value = raw ÷ 10^d, d being the current value of the named point.
    case decimalsFrom(String)

    package static let identity = PointScaling.linear(scale: 1, offset: 0)

    /// Scale 1 and offset 0: the raw value as it is.
    package var isIdentity: Bool {
        if case let .linear(scale, offset) = self { scale == 1 && offset == 0 } else { false }
    }
}

/// Whether a point is polled, written, or both.
package enum PointAccess: String, Sendable, Equatable {
    case read, readwrite, write

    package var isReadable: Bool { self != .write }
    package var isWritable: Bool { self != .read }
}

/// When a read value is published.
package struct ReportRule: Sendable, Equatable {
    /// Publish when the value differs from the last published one (else at every read).
    package var onChange = true
    /// A numeric change smaller than this does not count.
    package var deadband = 0.0
    /// Publish at least this often; nil never.
    package var heartbeat: Duration? = .seconds(60)

    package init() {}
}

/// A raw value that means a sensor error.
package struct Sentinel: Sendable, Equatable {
    /// Compared with the raw integer as the point's type reads it.
    package var raw: Int64
    package var error: String

    package init(raw: Int64, error: String) {
        self.raw = raw
        self.error = error
    }
}

/// A flag of a `flags` point that makes another point's value invalid while set.
package struct InvalidWhen: Sendable, Equatable {
    package var point: String
    package var flag: String

    package init(point: String, flag: String) {
        self.point = point
        self.flag = flag
    }
}

/// One readable and/or writable value of a device.
package struct Point: Sendable, Equatable {
    package var name: String
    package var description: String
    package var table: PointTable
    package var address: Int
    package var type: PointType
    package var scaling: PointScaling
    package var unit: String?
    package var access: PointAccess
    /// Accepted range of a written number, in engineering units.
    package var minimum: Double?
    package var maximum: Double?
    package var minimumWriteInterval: Duration?
    package var interval: Duration
    package var report: ReportRule
    /// Also publish the bare value on `events/<name>`.
    package var subtopic: Bool
    package var sentinels: [Sentinel]
    package var invalidWhen: [InvalidWhen]
    /// After a write, the point's registers are read again and the ack says what the device holds.
    package var readBack = false

    /// The addresses the point occupies in its table.
    package var addresses: Range<Int> { address..<address + type.width }
}

/// A write made each time a unit comes online.
package struct SetupWrite: Sendable, Equatable {
    package var table: PointTable
    package var address: Int
    /// A register value, or 0/1 for a coil.
    package var value: UInt16
    package var description: String

    package init(table: PointTable, address: Int, value: UInt16, description: String) {
        self.table = table
        self.address = address
        self.value = value
        self.description = description
    }
}

/// A code written to a fixed address when a command names one of its labels.
package struct CommandPoint: Sendable, Equatable {
    package var name: String
    package var description: String
    package var table: PointTable
    package var address: Int
    /// Label → raw value (0/1 for a coil).
    package var codes: [String: UInt16]

    package init(name: String, description: String, table: PointTable, address: Int, codes: [String: UInt16]) {
        self.name = name
        self.description = description
        self.table = table
        self.address = address
        self.codes = codes
    }
}
