import Glibc
import Synchronization
import POSIX

/// The four Modbus data tables.
package enum RegisterTable: String, Sendable, CaseIterable {
    case coils
    case discreteInputs = "discrete"
    case inputRegisters = "input"
    case holdingRegisters = "holding"

    /// Coils and discrete inputs hold bits; the others 16-bit registers.
    package var holdsBits: Bool { self == .coils || self == .discreteInputs }
    /// Coils and holding registers can be written by a master.
    package var isWritable: Bool { self == .coils || self == .holdingRegisters }
}

/// One simulated temperature controller: a register image for each table and a simple process
/// model, so that a demo shows live data. Used by tests, the demo and `modbridge simulate`.
///
/// Register map (0-based wire addresses; temperatures in tenths of °C):
/// - holding 0: set point (int16), holding 1: run (1) / stop (0), holding 2: high alarm limit
/// - input 0: process value (int16), input 1: output in tenths of %, input 2: status bits
///   (bit 0 running, bit 1 heating, bit 2 high alarm), inputs 3–4: process value as float32
///   (big-endian word order), inputs 5–6: seconds since start (uint32, big-endian word order)
/// - discrete input 0: heating, discrete input 1: high alarm
/// Every other address of every table (up to `tableSize`) is free storage.
package final class SimulatedController: Sendable {
    package enum Register {
        package static let setPoint: UInt16 = 0
        package static let run: UInt16 = 1
        package static let highAlarmLimit: UInt16 = 2
        package static let processValue: UInt16 = 0
        package static let output: UInt16 = 1
        package static let status: UInt16 = 2
        package static let processValueFloat: UInt16 = 3
        package static let uptimeSeconds: UInt16 = 5
        package static let heatingInput: UInt16 = 0
        package static let highAlarmInput: UInt16 = 1
    }

    /// Addresses per table by default; requests past the end get exception 02.
    package static let tableSize = 10_000
    private static let ambient = 20.0

    package let unit: UInt8
    /// Address ranges this controller does not implement, per table: any request touching one
    /// gets exception 02 (illegal data address), as from a device with gaps in its register map.
    package let unimplemented: [RegisterTable: [ClosedRange<Int>]]
    /// Holding registers whose written values the controller keeps within a range (as a set
    /// point is kept within its limits): a write outside it is answered normally and clamped.
    package let clampedHoldingRegisters: [Int: ClosedRange<UInt16>]
    private let runsModel: Bool
    /// Addresses per table (`tableSize` unless asked otherwise).
    private let addresses: Int
    private let image: Mutex<Image>

    struct Image {
        var coils: [Bool]
        var discreteInputs: [Bool]
        var inputRegisters: [UInt16]
        var holdingRegisters: [UInt16]
        var processValue = SimulatedController.ambient
        var started = ContinuousClock.now
        var lastStep = ContinuousClock.now
    }

    /// A controller answering as `unit`; `temperatureModel: false` leaves every register to the
    /// caller; `unimplemented` ranges answer exception 02. `addresses` per table (up to 65536:
    /// every address a profile may name).
    package init(unit: UInt8 = 1, temperatureModel: Bool = true, unimplemented: [RegisterTable: [ClosedRange<Int>]] = [:],
                 clampedHoldingRegisters: [Int: ClosedRange<UInt16>] = [:], addresses: Int = SimulatedController.tableSize) {
        self.unit = unit
        self.unimplemented = unimplemented
        self.clampedHoldingRegisters = clampedHoldingRegisters
        self.runsModel = temperatureModel
        self.addresses = min(max(addresses, 16), 65536)
        self.image = Mutex(Self.defaults(temperatureModel: temperatureModel, addresses: self.addresses))
    }

    private static func defaults(temperatureModel: Bool, addresses: Int) -> Image {
        var image = Image(coils: [Bool](repeating: false, count: addresses), discreteInputs: [Bool](repeating: false, count: addresses),
                          inputRegisters: [UInt16](repeating: 0, count: addresses), holdingRegisters: [UInt16](repeating: 0, count: addresses))
        if temperatureModel {
            image.holdingRegisters[Int(Register.setPoint)] = 650
            image.holdingRegisters[Int(Register.run)] = 1
            image.holdingRegisters[Int(Register.highAlarmLimit)] = 900
            step(&image, seconds: 0)
        }
        return image
    }

    /// Starts over as after a power cycle: every register back to its default.
    package func restartWithDefaults() {
        image.withLock { $0 = Self.defaults(temperatureModel: runsModel, addresses: addresses) }
    }

    /// Registers of an input or holding table (zero for bit tables).
    package func registers(_ table: RegisterTable, address: Int, count: Int) -> [UInt16] {
        image.withLock { image in
            switch table {
            case .inputRegisters: Array(image.inputRegisters[address..<address + count])
            case .holdingRegisters: Array(image.holdingRegisters[address..<address + count])
            case .coils, .discreteInputs: [UInt16](repeating: 0, count: count)
            }
        }
    }

    /// Bits of a coil or discrete-input table (false for register tables).
    package func bits(_ table: RegisterTable, address: Int, count: Int) -> [Bool] {
        image.withLock { image in
            switch table {
            case .coils: Array(image.coils[address..<address + count])
            case .discreteInputs: Array(image.discreteInputs[address..<address + count])
            case .inputRegisters, .holdingRegisters: [Bool](repeating: false, count: count)
            }
        }
    }

    /// Sets registers directly, as the device itself would.
    package func setRegisters(_ table: RegisterTable, address: Int, _ values: [UInt16]) {
        image.withLock { image in
            switch table {
            case .inputRegisters: image.inputRegisters.replaceSubrange(address..<address + values.count, with: values)
            case .holdingRegisters: image.holdingRegisters.replaceSubrange(address..<address + values.count, with: values)
            case .coils, .discreteInputs: break
            }
        }
    }

    /// Sets bits directly, as the device itself would.
    package func setBits(_ table: RegisterTable, address: Int, _ values: [Bool]) {
        image.withLock { image in
            switch table {
            case .coils: image.coils.replaceSubrange(address..<address + values.count, with: values)
            case .discreteInputs: image.discreteInputs.replaceSubrange(address..<address + values.count, with: values)
            case .inputRegisters, .holdingRegisters: break
            }
        }
    }

    /// Moves the process model on to now.
    func advanceModel(to now: ContinuousClock.Instant = .now) {
        guard runsModel else { return }
        image.withLock { image in
            let elapsed = image.lastStep.duration(to: now)
            guard elapsed >= .milliseconds(50) else { return }
            image.lastStep = now
            Self.step(&image, seconds: Double(elapsed.microseconds) / 1_000_000)
        }
    }

    /// A proportional heater driving a first-order process towards the set point.
    private static func step(_ image: inout Image, seconds: Double) {
        let setPoint = Double(Int16(bitPattern: image.holdingRegisters[Int(Register.setPoint)])) / 10
        let running = image.holdingRegisters[Int(Register.run)] != 0
        let output = running ? min(100, max(0, (setPoint - image.processValue) * 20)) : 0
        let equilibrium = ambient + output / 100 * 150
        image.processValue += (equilibrium - image.processValue) * (1 - exp(-seconds / 8))
        let highAlarm = image.processValue * 10 >= Double(Int16(bitPattern: image.holdingRegisters[Int(Register.highAlarmLimit)]))
        let tenths = Int16(clamping: Int((image.processValue * 10).rounded()))
        image.inputRegisters[Int(Register.processValue)] = UInt16(bitPattern: tenths)
        image.inputRegisters[Int(Register.output)] = UInt16((output * 10).rounded())
        image.inputRegisters[Int(Register.status)] = (running ? 1 : 0) | (output > 0 ? 2 : 0) | (highAlarm ? 4 : 0)
        let floatBits = Float(image.processValue).bitPattern
        image.inputRegisters[Int(Register.processValueFloat)] = UInt16(floatBits >> 16)
        image.inputRegisters[Int(Register.processValueFloat) + 1] = UInt16(floatBits & 0xFFFF)
        let uptime = UInt32(clamping: image.started.duration(to: image.lastStep).components.seconds)
        image.inputRegisters[Int(Register.uptimeSeconds)] = UInt16(uptime >> 16)
        image.inputRegisters[Int(Register.uptimeSeconds) + 1] = UInt16(uptime & 0xFFFF)
        image.discreteInputs[Int(Register.heatingInput)] = output > 0
        image.discreteInputs[Int(Register.highAlarmInput)] = highAlarm
    }

    /// Answers a request PDU with a response PDU (or an exception response).
    func respond(to pdu: ArraySlice<UInt8>) -> [UInt8] {
        advanceModel()
        return image.withLock { image in
            switch SimulatedRequestHandler.handle(pdu, image: &image, unimplemented: unimplemented) {
            case let .success(response):
                for (address, range) in clampedHoldingRegisters where image.holdingRegisters.indices.contains(address) {
                    image.holdingRegisters[address] = min(max(image.holdingRegisters[address], range.lowerBound), range.upperBound)
                }
                return response
            case let .failure(code): return [pdu.first.map { $0 | 0x80 } ?? 0x80, code.rawValue]
            }
        }
    }
}
