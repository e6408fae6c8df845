/// What a validated command writes, before it becomes Modbus requests.
package enum RegisterWrite: Sendable, Equatable {
    /// Holding registers from `address`.
    case registers(address: Int, values: [UInt16])
    /// One coil.
    case coil(address: Int, value: Bool)
    /// One bit of a holding register: the register is read, the bit changed, the register written.
    case registerBit(address: Int, bit: Int, value: Bool)

    /// The first address written.
    package var address: Int {
        switch self {
        case let .registers(address, _), let .coil(address, _), let .registerBit(address, _, _): address
        }
    }
}
