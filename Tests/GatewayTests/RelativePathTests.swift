import Foundation
import Modbus
import MQTT
import Testing
import TestSupport

/// A tty path relative to the working folder (command line) or to the config file's folder (config).
@Suite("Relative tty paths")
struct RelativePathTests {
    @Test("read takes a tty path relative to its working folder; a relative name that is nothing there is a bad argument")
    func readThroughARelativePath() throws {
        let folder = TemporaryFolder()
        let controller = SimulatedController(unit: 4, temperatureModel: false)
        controller.setRegisters(.holdingRegisters, address: 0, [650, 1])
        let simulator = try ModbusSimulator.startRTU(controllers: [controller], linkPath: folder.path + "/ttyX")
        defer { simulator.stop() }
        let read = ["--unit", "4", "--table", "holding", "--address", "0", "--count", "2"]
        for target in ["./ttyX", "ttyX"] {
            let result = try ModbridgeProcess.run(["read", target] + read, in: folder.path)
            #expect(result.status == 0, "\(target): \(result.error)")
            #expect(result.output == "[0]: 650\n[1]: 1\n", "\(target)")
        }
        let missing = try ModbridgeProcess.run(["read", "ttyY"] + read, in: folder.path)
        #expect(missing.status == 64)
        #expect(missing.error.contains("ttyY: \(folder.path)/ttyY: no such file"), "\(missing.error)")
    }

    @Test("run reaches a line named relative to the config file's folder, not to its working folder")
    func runWithARelativeDevice() async throws {
        let gateway = try GatewayFixture(start: false, linkName: "ttyX")
        try gateway.controller().setRegisters(.inputRegisters, address: 0, [215])
        try gateway.startGateway()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/state"])
        let state = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") { $0["online"] as? Bool == true }
        #expect((state?["values"] as? [String: Any])?["temperature"] as? Double == 21.5, "\(String(describing: state))")
        await client.close()
    }
}
