import Foundation
import Glibc
import Modbus
import MQTT
import MQTTClient
import Testing
import TestSupport

/// `modbridge run` on a config written for the test: simulated controllers on a pty the test
/// owns (so it can read their registers and inject faults), the embedded broker on a free port,
/// and a test profile polled every 100 ms.
final class GatewayFixture {
    let folder = TemporaryFolder()
    let simulator: ModbusSimulator
    let port = freePort()
    let configFile: String
    private(set) var process: ChildProcess?

    /// The profile devices use: registers a test can set and read back.
    static let profile = """
    { "model": "test-oven", "vendor": "modbridge tests",
      "limits": { "maxRegistersPerRead": 16 },
      "defaults": { "interval": "100ms", "report": { "onChange": true, "heartbeat": "60s" } },
      "points": [
        { "name": "set_point", "table": "holding", "address": 0, "type": "int16", "scale": 0.1, "unit": "°C",
          "access": "readwrite", "min": 0, "max": 170 },
        { "name": "mode", "table": "holding", "address": 1, "type": "enum", "access": "readwrite",
          "labels": { "0": "off", "1": "heat", "2": "cool" } },
        { "name": "temperature", "table": "input", "address": 0, "type": "int16", "scale": 0.1, "unit": "°C",
          "sentinels": [{ "raw": "0x8003", "error": "sensor open" }] },
        { "name": "flow", "table": "input", "address": 3, "type": "float32" },
        { "name": "alarm", "table": "discrete", "address": 1, "type": "bool" },
        { "name": "far_away", "table": "holding", "address": 20000, "type": "uint16", "access": "write" }
      ] }
    """

    /// The bus's `device` in the config: the simulator's pty, or a relative link to it.
    private let device: String
    private let framing: LineFraming

    /// Starts simulated controllers for `units` and the gateway with one device per unit
    /// (`oven-<unit>` in registry `plant`), and waits until its broker listens. With `linkName`,
    /// the pty is reached through a link of that name beside the config, which names it relatively.
    /// `controller` makes each unit's simulated controller (options such as unimplemented ranges).
    init(units: [UInt8] = [1], start: Bool = true, linkName: String? = nil, framing: LineFraming = .rtu,
         controller: (UInt8) -> SimulatedController = { SimulatedController(unit: $0, temperatureModel: false) }) throws {
        let controllers = units.map(controller)
        var linkPath: String?
        if let linkName { linkPath = folder.path + "/" + linkName }
        simulator = try ModbusSimulator.startRTU(controllers: controllers, linkPath: linkPath, framing: framing)
        device = linkName ?? simulator.address
        self.framing = framing
        try Self.profile.write(toFile: folder.path + "/test-oven.json", atomically: true, encoding: .utf8)
        configFile = folder.path + "/modbridge.json"
        try writeConfig(units: units)
        if start { try startGateway() }
    }

    deinit {
        process?.stop()
        simulator.stop()
    }

    /// The config for devices on `units`, with a poll interval override for some (reload tests
    /// rewrite it).
    func writeConfig(units: [UInt8], intervals: [UInt8: String] = [:]) throws {
        let devices = units.map { unit in
            let overrides = intervals[unit].map { #", "overrides": { "defaults": { "interval": "\#($0)" } }"# } ?? ""
            return #"{ "id": "oven-\#(unit)", "bus": "line", "unit": \#(unit), "profile": "test-oven"\#(overrides) }"#
        }
        try """
        { "broker": { "listeners": [{ "host": "127.0.0.1", "port": \(port), "anonymousAs": "plant" }] },
          "profiles": ["\(folder.path)/test-oven.json"],
          "buses": [{ "id": "line", "type": "rtu", "device": "\(device)", "rs485": "off", "framing": "\(framing.rawValue)",
                      "responseTimeout": "500ms" }],
          "registries": [{ "id": "plant", "devices": [\(devices.joined(separator: ", "))] }] }
        """.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    func startGateway() throws {
        process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", configFile])
        for _ in 0..<1000 where !acceptsConnections(port: port) { usleep(10_000) }
        #expect(acceptsConnections(port: port), "the gateway's broker never listened")
    }

    func controller(_ unit: UInt8 = 1) throws -> SimulatedController {
        try #require(simulator.controller(unit: unit))
    }

    /// Registers the telemetry tests read back through the test profile: set_point 72.5, mode
    /// "heat", temperature 65.3, flow 123.456 (float32), alarm true.
    static func setKnownValues(on controller: SimulatedController) {
        controller.setRegisters(.holdingRegisters, address: 0, [725, 1])
        controller.setRegisters(.inputRegisters, address: 0, [653])
        controller.setRegisters(.inputRegisters, address: 3, [0x42F6, 0xE979])
        controller.setBits(.discreteInputs, address: 1, [true])
    }

    /// A client subscribed to `filters`, with an inbox of what it receives.
    func subscriber(_ filters: [String], id: String = "test-consumer") async throws -> (MQTTClient, Inbox) {
        let client = try await connect(port, id)
        let inbox = Inbox(client)
        _ = try await client.subscribe(filters.map { Subscription(filter: $0, qos: .atLeastOnce) })
        return (client, inbox)
    }

    /// Waits (bounded: `seconds`, 10 by default) for a message on `topic` whose JSON payload satisfies `condition`.
    static func message(in inbox: Inbox, on topic: String, after skip: Int = 0, within seconds: Int = 10,
                        where condition: ([String: Any]) -> Bool = { _ in true }) async -> [String: Any]? {
        for _ in 0..<seconds * 100 {
            for message in inbox.messages.dropFirst(skip) where message.topic == topic {
                if let object = json(message.payload), condition(object) { return object }
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    static func json(_ payload: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]
    }

    /// Write requests (FC05/06/15/16) the simulator received, as (function, address, register count).
    var writes: [(function: UInt8, address: Int, count: Int)] {
        simulator.requests.filter { [5, 6, 15, 16].contains($0.functionCode) }.map { request in
            let frame = request.frame
            let address = Int(frame[2]) << 8 | Int(frame[3])
            let count = request.functionCode == 15 || request.functionCode == 16 ? Int(frame[4]) << 8 | Int(frame[5]) : 1
            return (request.functionCode, address, count)
        }
    }
}
