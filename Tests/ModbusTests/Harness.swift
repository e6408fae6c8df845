import Glibc
import Modbus
import Serial

/// A temporary folder removed when the test is done.
final class TemporaryFolder {
    let path: String

    init() {
        var template = Array("/tmp/modbridge-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? "/tmp"
    }

    deinit { remove(path) }

    private func remove(_ folder: String) {
        guard let directory = opendir(folder) else { return }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let child = folder + "/" + name
            var info = stat()
            if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { remove(child) } else { unlink(child) }
        }
        closedir(directory)
        rmdir(folder)
    }
}

/// A simulator on a pty behind a stable link, and a bus on that link.
struct RTUBench {
    let folder = TemporaryFolder()
    let simulator: ModbusSimulator
    let bus: Bus
    let controller: SimulatedController

    init(units: [UInt8] = [1], model: Bool = false, configure: (inout BusConfiguration) -> Void = { _ in }) throws {
        let controllers = units.map { SimulatedController(unit: $0, temperatureModel: model) }
        simulator = try ModbusSimulator.startRTU(controllers: controllers, linkPath: folder.path + "/ttySIM")
        controller = controllers[0]
        var configuration = BusConfiguration(
            target: .rtu(path: simulator.address, settings: SerialSettings(baudRate: .b115200)),
            responseTimeout: .milliseconds(300), byteTimeout: .milliseconds(30),
            initialReopenDelay: .milliseconds(20), maximumReopenDelay: .milliseconds(200))
        configure(&configuration)
        bus = try Bus(configuration)
    }

    func shutdown() async {
        await bus.close()
        simulator.stop()
    }
}

/// Waits (polling, bounded) until `condition` holds; false if it never did.
func eventually(_ condition: () -> Bool, attempts: Int = 500) async -> Bool {
    for _ in 0..<attempts {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
