import Glibc
import Mapping
import Testing
import TestSupport

/// `framing` on serial buses and the `rtu-over-tcp` bus type in the gateway config.
@Suite struct LineFramingConfigTests {
    private static let profile = """
    { "model": "acme-t1", "vendor": "Acme", "points": [{ "name": "pv", "table": "input", "address": 0, "type": "int16" }] }
    """

    private func write(_ text: String, to path: String) {
        let file = fopen(path, "w")
        fputs(text, file)
        fclose(file)
    }

    /// `buses` (JSON) with one device on the first, loaded from a new folder.
    private func load(buses: String, in folder: TemporaryFolder, unit: Int = 1) throws(MappingError) -> LoadedConfiguration {
        mkdir(folder.path + "/profiles", 0o755)
        write(Self.profile, to: folder.path + "/profiles/acme-t1.json")
        write("""
        { "profiles": ["profiles"], "buses": [\(buses)],
          "registries": [{ "id": "plant", "devices": [{ "id": "oven-1", "bus": "b", "unit": \(unit), "profile": "acme-t1" }] }] }
        """, to: folder.path + "/modbridge.json")
        return try ConfigurationLoader.load(configFile: folder.path + "/modbridge.json")
    }

    private func problems(buses: String, unit: Int = 1) -> [String] {
        do {
            _ = try load(buses: buses, in: TemporaryFolder(), unit: unit)
            return []
        } catch {
            return error.problems.map { [$0.path, $0.message].compactMap { $0 }.joined(separator: ": ") }
        }
    }

    @Test func anASCIISimulatorBusAndAnRTUOverTCPBusLoad() throws {
        let loaded = try load(buses: """
        { "id": "b", "type": "simulator", "framing": "ascii", "byteTimeout": "1s" },
        { "id": "nport", "type": "rtu-over-tcp", "host": "192.0.2.7", "port": 4001, "interFrameDelay": "5ms" },
        { "id": "line", "type": "rtu", "device": "/dev/ttyUSB0", "framing": "ascii", "dataBits": 7, "parity": "even" },
        { "id": "plain", "type": "rtu", "device": "/dev/ttyUSB1" }
        """, in: TemporaryFolder())
        let buses = loaded.config.buses
        #expect(buses[0].kind == .simulator(units: [1], line: .init(framing: "ascii")))
        #expect(buses[0].byteTimeout == .seconds(1))
        #expect(buses[1].kind == .rtuOverTCP(host: "192.0.2.7", port: 4001))
        #expect(buses[1].interFrameDelay == .milliseconds(5))
        #expect(buses[2].kind == .rtu(device: "/dev/ttyUSB0", line: .init(parity: "even", dataBits: 7, framing: "ascii")))
        #expect(buses[3].kind == .rtu(device: "/dev/ttyUSB1", line: .init()))
    }

    @Test("A simulator bus keeps a real line's character times unless characterTimes is false; other buses refuse the key")
    func simulatorCharacterTimes() throws {
        let loaded = try load(buses: """
        { "id": "b", "type": "simulator" }, { "id": "fast", "type": "simulator", "units": [2], "characterTimes": false }
        """, in: TemporaryFolder())
        #expect(loaded.config.buses.map(\.simulatedCharacterTimes) == [true, false])
        #expect(problems(buses: #"{ "id": "b", "type": "rtu", "device": "/dev/ttyS0", "characterTimes": true }"#).contains {
            $0.hasPrefix("$.buses[0].characterTimes") })
    }

    @Test func aBadFramingIsReportedAtItsPath() {
        #expect(problems(buses: #"{ "id": "b", "type": "rtu", "device": "/dev/ttyS0", "framing": "binary" }"#).contains {
            $0.hasPrefix("$.buses[0].framing: ") && $0.contains("\"binary\"") && $0.contains("ascii")
        })
    }

    @Test func rtuOverTCPNeedsAPortAndTakesNoSerialKeys() {
        let missing = problems(buses: #"{ "id": "b", "type": "rtu-over-tcp", "host": "nport" }"#)
        #expect(missing.contains { $0.hasPrefix("$.buses[0].port: ") }, "\(missing)")
        let serial = problems(buses: #"{ "id": "b", "type": "rtu-over-tcp", "host": "nport", "port": 4001, "framing": "ascii" }"#)
        #expect(serial.contains { $0.hasPrefix("$.buses[0].framing") }, "\(serial)")
        let host = problems(buses: #"{ "id": "b", "type": "rtu-over-tcp", "port": 4001 }"#)
        #expect(host.contains { $0.hasPrefix("$.buses[0].host: ") }, "\(host)")
    }

    @Test func unitsBehindADeviceServerAreSerialUnits() {
        #expect(problems(buses: #"{ "id": "b", "type": "rtu-over-tcp", "host": "nport", "port": 4001 }"#, unit: 0) == [
            "$.registries[0].devices[0].unit: found 0, expected a unit id 1...247 on the serial bus \"b\"",
        ])
    }
}
