import Foundation
import Mapping
import Testing
import TestSupport

/// A serial line's `device` is taken from the config file's folder when relative, as `profiles`
/// and `storage` are.
@Suite("Config: a relative device path")
struct DevicePathTests {
    /// `gw/modbridge.json` under `folder` with one rtu bus on `device`.
    private func load(device: String, in folder: TemporaryFolder) throws -> LoadedConfiguration {
        try FileManager.default.createDirectory(atPath: folder.path + "/gw", withIntermediateDirectories: true)
        let file = folder.path + "/gw/modbridge.json"
        try """
        { "profiles": ["p.json"], "storage": "state",
          "buses": [{ "id": "line1", "type": "rtu", "device": "\(device)" }],
          "registries": [{ "id": "reg", "devices": [{ "id": "dev-1", "bus": "line1", "unit": 1, "profile": "p" }] }] }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        try """
        { "model": "p", "vendor": "v", "points": [{ "name": "pv", "table": "input", "address": 0, "type": "int16" }] }
        """.write(toFile: folder.path + "/gw/p.json", atomically: true, encoding: .utf8)
        return try ConfigurationLoader.load(configFile: file)
    }

    private func device(of loaded: LoadedConfiguration) -> [String] {
        (loaded.config.buses.map(\.kind) + loaded.devices.map(\.bus.kind)).compactMap { kind in
            if case let .rtu(device, _) = kind { device } else { nil }
        }
    }

    @Test("A relative device is resolved against the config's folder, for the bus and its devices")
    func relativeDevice() throws {
        let folder = TemporaryFolder()
        let loaded = try load(device: "ttyX", in: folder)
        #expect(device(of: loaded) == [folder.path + "/gw/ttyX", folder.path + "/gw/ttyX"])
        #expect(loaded.storagePath == folder.path + "/gw/state")
        #expect(device(of: try load(device: "../lines/tty1", in: folder)) == [folder.path + "/gw/../lines/tty1", folder.path + "/gw/../lines/tty1"])
    }

    @Test("An absolute device is kept as written; an empty one is refused")
    func absoluteDevice() throws {
        let folder = TemporaryFolder()
        #expect(device(of: try load(device: "/dev/ttyUSB0", in: folder)) == ["/dev/ttyUSB0", "/dev/ttyUSB0"])
        do {
            _ = try load(device: "", in: folder)
            Issue.record("an empty device loaded")
        } catch let error as MappingError {
            #expect(error.problems.map(\.path) == ["$.buses[0].device"])
        }
    }
}
