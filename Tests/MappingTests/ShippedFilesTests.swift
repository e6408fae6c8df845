import FoundationEssentials
import Glibc
import Mapping
import Testing

/// The profiles in `mappings/` and the configs in `examples/` load without a problem.
@Suite struct ShippedFilesTests {
    /// Tests/MappingTests/<this file> → the repository.
    static let repository: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static func files(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: repository + "/" + folder)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { repository + "/" + folder + "/" + $0 }
    }

    @Test func everyShippedProfileIsValid() throws {
        let files = Self.files(in: "mappings")
        let models = files.map { String($0.split(separator: "/").last!.dropLast(5)) }
        for model in ["delta-dtb", "omron-e5cc", "eurotherm-3216", "autonics-tk4", "owen-trm210", "modbridge-simulator"] {
            #expect(models.contains(model), "mappings/\(model).json is missing")
        }
        for file in files {
            let profile = try DeviceProfile.parse(try Data(contentsOf: URL(fileURLWithPath: file)), file: file)
            #expect(file.hasSuffix("/\(profile.model).json"))
            #expect(profile.verified == (profile.model != "owen-trm210"), "\(profile.model): only the OWEN profile is unverified")
        }
    }

    @Test func everyShippedExampleLoads() throws {
        let files = Self.files(in: "examples")
        #expect(files.contains { $0.hasSuffix("/demo.json") })
        for file in files {
            let loaded = try ConfigurationLoader.load(configFile: file)
            #expect(!loaded.devices.isEmpty)
        }
    }
}
