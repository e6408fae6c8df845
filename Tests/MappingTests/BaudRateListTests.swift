import Foundation
import Mapping
import Serial
import Testing
import TestSupport

/// The baud rates have one source, Serial's `BaudRate`: the config takes exactly those and refuses
/// any other value with its path, and schemas/config.schema.json lists the same ones.
@Suite("Baud rates: one list, from Serial")
struct BaudRateListTests {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("schemas/config.schema.json").path

    /// A config with one rtu bus whose `baud` member is `baud` (JSON text).
    private func load(baud: String, in folder: TemporaryFolder) throws(MappingError) -> LoadedConfiguration {
        let file = folder.path + "/modbridge.json"
        try? """
        { "profiles": ["p.json"],
          "buses": [{ "id": "line1", "type": "rtu", "device": "/dev/ttyUSB0", "baud": \(baud) }],
          "registries": [{ "id": "reg", "devices": [{ "id": "dev-1", "bus": "line1", "unit": 1, "profile": "p" }] }] }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        try? """
        { "model": "p", "vendor": "v", "points": [{ "name": "pv", "table": "input", "address": 0, "type": "int16" }] }
        """.write(toFile: folder.path + "/p.json", atomically: true, encoding: .utf8)
        return try ConfigurationLoader.load(configFile: file)
    }

    @Test("The schema's baud enum is exactly Serial's BaudRate list, in order")
    func schemaListsTheSwiftRates() throws {
        let tree = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: Self.schema)), file: Self.schema)
        guard case let .object(root) = tree, case let .object(definitions)? = root["$defs"], case let .object(bus)? = definitions["bus"],
              case let .object(properties)? = bus["properties"], case let .object(baud)? = properties["baud"] else {
            Issue.record("no $defs.bus.properties.baud in \(Self.schema)")
            return
        }
        let listed: [Int64]? = if case let .array(items)? = baud["enum"] {
            items.compactMap { if case let .integer(value) = $0 { value } else { nil } }
        } else {
            nil
        }
        #expect(listed == BaudRate.supported.map(Int64.init), "the schema's baud is \(baud)")
        #expect(baud["default"] == .integer(Int64(SerialSettings().baudRate.rawValue)))
    }

    @Test("Every rate of the list loads as that rate; no baud is 9600")
    func everyRateLoads() throws {
        let folder = TemporaryFolder()
        for rate in BaudRate.allCases {
            let loaded = try load(baud: String(rate.rawValue), in: folder)
            guard case let .rtu(_, line) = loaded.config.buses[0].kind else {
                Issue.record("not an rtu bus")
                continue
            }
            #expect(line.baud == rate)
        }
        #expect(BusSettings.SerialLine().baud == .b9600)
    }

    @Test("A rate not in the list is an error at its path, never a default", arguments: ["9601", "300", "250000", "0", "-9600", "\"9600\"", "9600.5"])
    func anUnknownRateIsRefused(baud: String) {
        let folder = TemporaryFolder()
        do {
            _ = try load(baud: baud, in: folder)
            Issue.record("baud \(baud) loaded")
        } catch {
            #expect(error.problems.map(\.path) == ["$.buses[0].baud"])
            #expect(error.problems.first?.message.hasSuffix("expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400") == true,
                    "\(error.problems)")
        }
    }
}
