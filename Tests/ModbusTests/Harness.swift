import Modbus
import Serial
import TestSupport

/// A simulator on a pty behind a stable link, and a bus on that link.
struct RTUBench {
    let folder = TemporaryFolder()
    let simulator: ModbusSimulator
    let bus: Bus
    let controller: SimulatedController

    init(units: [UInt8] = [1], model: Bool = false, framing: LineFraming = .rtu, configure: (inout BusConfiguration) -> Void = { _ in },
         events: @escaping @Sendable (BusEvent) -> Void = { _ in }) throws {
        let controllers = units.map { SimulatedController(unit: $0, temperatureModel: model) }
        simulator = try ModbusSimulator.startRTU(controllers: controllers, linkPath: folder.path + "/ttySIM", framing: framing)
        controller = controllers[0]
        var configuration = BusConfiguration(
            target: .rtu(path: simulator.address, settings: SerialSettings(baudRate: .b115200)), framing: framing,
            responseTimeout: .milliseconds(300), byteTimeout: .milliseconds(30),
            initialReopenDelay: .milliseconds(20), maximumReopenDelay: .milliseconds(200))
        configure(&configuration)
        bus = try Bus(configuration, events: events)
    }

    func shutdown() async {
        await bus.close()
        simulator.stop()
    }
}
