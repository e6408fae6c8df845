@testable import GatewayCore
import Modbus
import POSIX
import Serial
import Synchronization
import Testing
import TestSupport

/// A bus thread marks progress while it has nothing to do and while its line cannot open; the
/// service watchdog withholds its ping while a bus is stuck.
@Suite("Bus heartbeat and the watchdog's bus check")
struct BusHeartbeatTests {
    static func line(_ path: String) -> BusConfiguration {
        var serial = SerialSettings()
        serial.rs485.mode = .off  // a pty has no RS-485 driver
        return BusConfiguration(target: .rtu(path: path, settings: serial), responseTimeout: .milliseconds(200))
    }

    @Test("An idle bus and a bus whose line cannot be opened both keep marking progress")
    func heartbeatWithoutWork() async throws {
        let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1, temperatureModel: false)])
        defer { simulator.stop() }
        let idle = try Bus(Self.line(simulator.address))
        let folder = TemporaryFolder()
        let closed = try Bus(Self.line(folder.path + "/no-such-tty"))
        #expect(await eventually { idle.status.isOpen })
        // Past the first marks (the line opened, the open failed): later ones come from turns with no work.
        let idleMark = idle.status.lastProgress
        let closedMark = closed.status.lastProgress
        #expect(await eventually({ idle.status.lastProgress > idleMark && closed.status.lastProgress > closedMark }, attempts: 1000))
        #expect(!closed.status.isOpen)
        #expect(closed.status.transactions == 0)
        await idle.close()
        await closed.close()
    }

    @Test("The service watchdog withholds WATCHDOG=1 while a bus is stuck, saying which, and pings once none is")
    func watchdogWithheld() async throws {
        let folder = TemporaryFolder()
        let socket = try NotifySocket(path: folder.path + "/notify")
        let notifier = try ServiceNotifier(address: socket.path)
        let stuck = Mutex(true)
        let log = CapturedLog()
        let watchdog = ServiceWatchdog.start(notifier, timeout: .milliseconds(100), logger: log.logger(),
                                             stalledBuses: { stuck.withLock { $0 } ? "bus line: no progress for 12 s (limit 10 s)" : nil }) { true }
        defer { watchdog.cancel() }
        #expect(await eventually { log.events("watchdog_withheld").count >= 2 })
        // Each turn either logs or pings: after two withheld turns no datagram was sent.
        #expect(socket.receive(timeout: .milliseconds(1)) == nil)
        let fields = try #require(log.events("watchdog_withheld").first).fields
        #expect(fields.contains { $0.0 == "reason" && $0.1 == "bus line: no progress for 12 s (limit 10 s)" })
        stuck.withLock { $0 = false }
        #expect(socket.receive { $0 == "WATCHDOG=1" } != nil)
    }
}
