/// One controller model's register map (`mappings/<model>.json`), validated.
public struct DeviceProfile: Sendable, Equatable {
    /// The profile's id; devices name it in `profile`.
    public var model: String
    public var vendor: String
    public var description: String
    /// False for a profile whose facts were not checked on hardware or in the maker's manual.
    public var verified: Bool
    public var limits: DeviceLimits
    /// Readable and writable values, in file order.
    public var points: [Point]
    /// Writes made each time the unit comes online, in order.
    public var setup: [SetupWrite]
    /// Codes written to fixed addresses on command.
    public var commands: [CommandPoint]

    /// The point called `name`.
    public func point(named name: String) -> Point? { points.first { $0.name == name } }
    /// The command point called `name`.
    public func command(named name: String) -> CommandPoint? { commands.first { $0.name == name } }
}

/// What a device accepts on the wire, beyond the protocol's own limits.
public struct DeviceLimits: Sendable, Equatable {
    public var maxRegistersPerRead = 125
    public var maxBitsPerRead = 2000
    public var maxRegistersPerWrite = 123
    public var maxBitsPerWrite = 1968
    /// FC05/FC06.
    public var writeSingle = true
    /// FC15/FC16.
    public var writeMultiple = true
    /// Acts on unit 0.
    public var broadcast = true
    /// The function that reads coils: 1 (FC01), or 2 (FC02) for devices that read every bit
    /// with FC02, such as the Delta DTB.
    public var coilReadFunction: UInt8 = 1
    /// Registers the planner may read and discard to merge two ranges.
    public var maxGap = 8
    /// Bits the planner may read and discard to merge two ranges.
    public var maxBitGap = 32

    public init() {}
}

/// The Modbus table a point lives in.
public enum PointTable: String, Sendable, Equatable, CaseIterable {
    case coil, discrete, input, holding

    /// Coils and discrete inputs hold bits; input and holding 16-bit registers.
    public var holdsBits: Bool { self == .coil || self == .discrete }
    /// Coils and holding registers can be written.
    public var isWritable: Bool { self == .coil || self == .holding }
}

/// How a point's raw registers or bit become a value.
public enum PointType: Sendable, Equatable {
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
    public var width: Int {
        switch self {
        case let .number(type, _): type.registerCount
        case .bool, .bit, .enumeration: 1
        case let .string(registers, _): registers
        case let .flags(registers, _, _): registers
        }
    }

    /// A number of any width.
    public var isNumber: Bool {
        if case .number = self { return true }
        return false
    }

    /// An integer number (not a float).
    public var isInteger: Bool {
        if case let .number(kind, _) = self { return !kind.isFloat }
        return false
    }

    /// The name used in profiles.
    public var name: String {
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
public enum PointScaling: Sendable, Equatable {
    /// value = raw × scale + offset.
    case linear(scale: Double, offset: Double)
    /// value = raw ÷ 10^d, d being the current value of the named point.
    case decimalsFrom(String)

    public static let identity = PointScaling.linear(scale: 1, offset: 0)

    /// Scale 1 and offset 0: the raw value as it is.
    public var isIdentity: Bool {
        if case let .linear(scale, offset) = self { scale == 1 && offset == 0 } else { false }
    }
}

/// Whether a point is polled, written, or both.
public enum PointAccess: String, Sendable, Equatable {
    case read, readwrite, write

    public var isReadable: Bool { self != .write }
    public var isWritable: Bool { self != .read }
}

/// When a read value is published.
public struct ReportRule: Sendable, Equatable {
    /// Publish when the value differs from the last published one (else at every read).
    public var onChange = true
    /// A numeric change smaller than this does not count.
    public var deadband = 0.0
    /// Publish at least this often; nil never.
    public var heartbeat: Duration? = .seconds(60)

    public init() {}
}

/// A raw value that means a sensor error.
public struct Sentinel: Sendable, Equatable {
    /// Compared with the raw integer as the point's type reads it.
    public var raw: Int64
    public var error: String

    public init(raw: Int64, error: String) {
        self.raw = raw
        self.error = error
    }
}

/// A flag of a `flags` point that makes another point's value invalid while set.
public struct InvalidWhen: Sendable, Equatable {
    public var point: String
    public var flag: String

    public init(point: String, flag: String) {
        self.point = point
        self.flag = flag
    }
}

/// One readable and/or writable value of a device.
public struct Point: Sendable, Equatable {
    public var name: String
    public var description: String
    public var table: PointTable
    public var address: Int
    public var type: PointType
    public var scaling: PointScaling
    public var unit: String?
    public var access: PointAccess
    /// Accepted range of a written number, in engineering units.
    public var minimum: Double?
    public var maximum: Double?
    public var minimumWriteInterval: Duration?
    public var interval: Duration
    public var report: ReportRule
    /// Also publish the bare value on `events/<name>`.
    public var subtopic: Bool
    public var sentinels: [Sentinel]
    public var invalidWhen: [InvalidWhen]

    /// The addresses the point occupies in its table.
    public var addresses: Range<Int> { address..<address + type.width }
}

/// A write made each time a unit comes online.
public struct SetupWrite: Sendable, Equatable {
    public var table: PointTable
    public var address: Int
    /// A register value, or 0/1 for a coil.
    public var value: UInt16
    public var description: String

    public init(table: PointTable, address: Int, value: UInt16, description: String) {
        self.table = table
        self.address = address
        self.value = value
        self.description = description
    }
}

/// A code written to a fixed address when a command names one of its labels.
public struct CommandPoint: Sendable, Equatable {
    public var name: String
    public var description: String
    public var table: PointTable
    public var address: Int
    /// Label → raw value (0/1 for a coil).
    public var codes: [String: UInt16]

    public init(name: String, description: String, table: PointTable, address: Int, codes: [String: UInt16]) {
        self.name = name
        self.description = description
        self.table = table
        self.address = address
        self.codes = codes
    }
}
