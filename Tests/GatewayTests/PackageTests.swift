import Foundation
import GatewayCore
import Testing
import TestSupport

/// The .deb `make deb` builds (and `make test` builds before the tests): what dpkg sees in it,
/// and its binary checking its packaged config in a root it was unpacked into, without Swift.
@Suite("The Debian package: conffiles, maintainer scripts, and a binary that runs without Swift")
struct PackageTests {
    /// Runs `executable` with `arguments` and `environment` (the whole environment), to its end.
    private func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ModbridgeProcess.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return .init(status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
                     error: String(decoding: errorData, as: UTF8.self))
    }

    /// The package in .build/deb, which `make test` builds first (`make deb` alone also does).
    private func package() throws -> String {
        let folder = CheckCommandTests.repository + "/.build/deb"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        // This version's: a package left from an earlier version is not the one to test.
        let deb = try #require(names.first { $0.hasPrefix("modbridge_\(ModbridgeVersion.current)_") && $0.hasSuffix(".deb") },
                               "no .deb of version \(ModbridgeVersion.current) in \(folder): `make test` builds it (or `make deb`)")
        return folder + "/" + deb
    }

    @Test("dpkg-deb --info shows the control file, the conffile and the maintainer scripts; the files sit where the FHS puts them")
    func contents() throws {
        let deb = try package()
        let info = try run("/usr/bin/dpkg-deb", ["--info", deb])
        #expect(info.status == 0, "\(info.error)")
        for member in ["control", "conffiles", "postinst", "prerm", "postrm"] { #expect(info.output.contains(" \(member)"), "\(member): \(info.output)") }
        #expect(info.output.contains("Package: modbridge") && info.output.contains("Depends: libc6, libstdc++6, libgcc-s1, libmodbus5 (>= 3.1.6), libssl3, adduser"))

        let root = TemporaryFolder()
        #expect(try run("/usr/bin/dpkg-deb", ["-e", deb, root.path + "/DEBIAN"]).status == 0)
        #expect(try String(contentsOfFile: root.path + "/DEBIAN/conffiles", encoding: .utf8) == "/etc/modbridge/modbridge.json\n")
        let postinst = try String(contentsOfFile: root.path + "/DEBIAN/postinst", encoding: .utf8)
        #expect(postinst.contains("adduser --system --group") && postinst.contains("adduser modbridge dialout"))
        for script in ["postinst", "prerm", "postrm"] {
            #expect(try run("/bin/sh", ["-n", root.path + "/DEBIAN/" + script]).status == 0, "\(script) is not valid sh")
        }

        let listing = try run("/usr/bin/dpkg-deb", ["--contents", deb])
        for path in ["./usr/bin/modbridge", "./etc/modbridge/modbridge.json", "./usr/share/modbridge/mappings/omron-e5cc.json",
                     "./usr/share/modbridge/schemas/config.schema.json", "./lib/systemd/system/modbridge.service", "./var/lib/modbridge/",
                     "./usr/share/doc/modbridge/README.md", "./usr/share/doc/modbridge/docs/configuration.md"] {
            #expect(listing.output.contains(path), "\(path) is not in the package")
        }
    }

    @Test("make install's script into a root that has a config already: the config is kept, the rest is in place")
    func installKeepsAnExistingConfig() throws {
        let binary = CheckCommandTests.repository + "/.build-static/release/modbridge"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "`make test` builds \(binary) (make static)")
        let root = TemporaryFolder()
        try FileManager.default.createDirectory(atPath: root.path + "/etc/modbridge", withIntermediateDirectories: true)
        let edited = #"{ "edited": "by the operator" }"#
        try edited.write(toFile: root.path + "/etc/modbridge/modbridge.json", atomically: true, encoding: .utf8)
        let install = try run(CheckCommandTests.repository + "/scripts/install.sh", [root.path, binary])
        #expect(install.status == 0, "\(install.error)")
        #expect(install.output.contains("kept \(root.path)/etc/modbridge/modbridge.json"))
        #expect(try String(contentsOfFile: root.path + "/etc/modbridge/modbridge.json", encoding: .utf8) == edited)
        for path in ["/usr/bin/modbridge", "/usr/share/modbridge/mappings/omron-e5cc.json", "/usr/share/modbridge/schemas/config.schema.json",
                     "/lib/systemd/system/modbridge.service", "/var/lib/modbridge", "/usr/share/doc/modbridge/docs/monitoring.md"] {
            #expect(FileManager.default.fileExists(atPath: root.path + path), "\(path)")
        }
        #expect(try run(root.path + "/usr/bin/modbridge", ["--version"]).output == "modbridge \(ModbridgeVersion.current)\n")
    }

    @Test("Unpacked into a temporary root, its binary checks the packaged config with no Swift on PATH and no Swift library")
    func binaryRunsWithoutSwift() throws {
        let deb = try package()
        let root = TemporaryFolder()
        #expect(try run("/usr/bin/dpkg-deb", ["-x", deb, root.path]).status == 0)
        let binary = root.path + "/usr/bin/modbridge"
        // Nothing of the Swift toolchain: a bare PATH, no library path.
        let bare = ["PATH": "/usr/bin:/bin", "HOME": root.path]
        let libraries = try run("/usr/bin/ldd", [binary], environment: bare)
        #expect(libraries.status == 0)
        #expect(!libraries.output.contains("libswift") && !libraries.output.contains("not found"), "\(libraries.output)")

        // The package's version is the binary's own.
        let version = try run(binary, ["--version"], environment: bare)
        #expect(version.status == 0 && version.output == "modbridge \(ModbridgeVersion.current)\n", "\(version.output)")
        #expect(try run("/usr/bin/dpkg-deb", ["--field", deb, "Version"]).output == ModbridgeVersion.current + "\n")

        let check = try run(binary, ["check", root.path + "/etc/modbridge/modbridge.json"], environment: bare)
        #expect(check.status == 0, "\(check.error)")
        #expect(check.output.contains("OK — 1 bus, 1 device, 6 profiles loaded"), "\(check.output)")
        #expect(check.output.contains("plant/controller-1: bus line1 unit 1, profile omron-e5cc"))
    }
}
