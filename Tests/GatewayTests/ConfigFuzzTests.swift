import Foundation
import Glibc
import Mapping
import Testing
import TestSupport

/// The config fuzz probe: seeded mutations (ConfigMutations.swift) of every shipped example and
/// profile, through the loader in process, through the real `modbridge check`, and through SIGHUP
/// reloads of one running gateway. Never a trap or a hang; every error names its file; a refused
/// reload leaves the gateway running and polling. A failure prints the seed and the mutated text.
/// MODBRIDGE_FUZZ_SCALE=N runs N times as many mutations (to hunt, not in `make test`).
@Suite("Config fuzz: mutated examples and profiles never crash modbridge", .serialized)
struct ConfigFuzzTests {
    static let scale = max(1, Int(ProcessInfo.processInfo.environment["MODBRIDGE_FUZZ_SCALE"] ?? "") ?? 1)

    /// A folder laid out as the repository is (examples/ beside a link to mappings/), so that a
    /// mutated example finds its profiles at "../mappings".
    private static func workspace() -> TemporaryFolder {
        let folder = TemporaryFolder()
        symlink(CheckCommandTests.repository + "/mappings", folder.path + "/mappings")
        mkdir(folder.path + "/examples", 0o755)
        return folder
    }

    private static func write(_ bytes: [UInt8], to file: String) {
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
    }

    /// Where a problem names a file: the file itself, or another file the loader read (a profile
    /// folder the mutation named), which then exists.
    private static func namesItsFile(_ problem: MappingError.Problem, expected: String) -> Bool {
        guard let file = problem.file else { return false }
        return file.hasPrefix(expected) || FileManager.default.fileExists(atPath: file)
    }

    @Test("In process: the loader never traps on a mutated example or profile, and every error names its file")
    func inProcess() {
        let folder = Self.workspace()
        var refused = 0, accepted = 0
        for example in ShippedFiles.examples {
            let file = folder.path + "/examples/" + (example.split(separator: "/").last.map(String.init) ?? "x.json")
            for mutation in ConfigMutation.all(of: ShippedFiles.bytes(example), file: example, count: 20 * Self.scale) {
                Self.write(mutation.bytes, to: file)
                do {
                    _ = try ConfigurationLoader.load(configFile: file)
                    accepted += 1
                } catch {
                    refused += 1
                    #expect(error.problems.allSatisfy { Self.namesItsFile($0, expected: file) }, "\(mutation)\n→ \(error)")
                }
            }
        }
        for profile in ShippedFiles.profiles {
            for mutation in ConfigMutation.all(of: ShippedFiles.bytes(profile), file: profile, count: 20 * Self.scale) {
                do {
                    _ = try DeviceProfile.parse(Data(mutation.bytes), file: profile)
                    accepted += 1
                } catch {
                    refused += 1
                    #expect(error.problems.allSatisfy { $0.file == profile }, "\(mutation)\n→ \(error)")
                }
            }
        }
        // The mutations do mostly break the files (else the probe tests nothing).
        #expect(refused > 5 * accepted, "refused \(refused), accepted \(accepted)")
    }

    /// A deterministic sample of `count` mutations of each kind across `files`.
    private static func sample(_ files: [String], perKind count: Int) -> [ConfigMutation] {
        ConfigMutation.Kind.allCases.flatMap { kind in
            (0..<count).map { index in
                let file = files[index % files.count]
                return ConfigMutation.make(kind, of: ShippedFiles.bytes(file), file: file, seed: 1000 + UInt64(index))
            }
        }
    }

    /// `modbridge check` to its end (killed after a generous minute: a hang fails, never blocks).
    private static func check(_ config: String, log: String) throws -> (status: Int32, errors: [String]) {
        let process = try ChildProcess(modbridgeExecutable, ["check", config], standardErrorFile: log)
        let status = process.waitForExit(timeout: .seconds(60))
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (status, text.split(separator: "\n").map(String.init))
    }

    @Test("modbridge check on mutated examples and profiles exits 0 or 1, never by a signal, and every error line names a file")
    func checkBinary() throws {
        let folder = Self.workspace()
        let log = folder.path + "/check.log"
        var runs = 0, refused = 0
        for mutation in Self.sample(ShippedFiles.examples, perKind: 2 * Self.scale) {
            let file = folder.path + "/examples/" + (mutation.file.split(separator: "/").last.map(String.init) ?? "x.json")
            Self.write(mutation.bytes, to: file)
            refused += try expectCheckEnds(file, log: log, mutation) ? 1 : 0
            runs += 1
        }
        // A mutated profile, used by a device of a config of its own.
        for mutation in Self.sample(ShippedFiles.profiles, perKind: 2 * Self.scale) {
            let model = String(mutation.file.split(separator: "/").last?.dropLast(".json".count) ?? "x")
            Self.write(mutation.bytes, to: folder.path + "/\(model).json")
            let config = folder.path + "/config.json"
            Self.write(Array("""
            { "profiles": ["\(model).json"], "buses": [{ "id": "sim", "type": "simulator" }],
              "registries": [{ "id": "reg", "devices": [{ "id": "dev", "bus": "sim", "unit": 1, "profile": "\(model)" }] }] }
            """.utf8), to: config)
            refused += try expectCheckEnds(config, log: log, mutation) ? 1 : 0
            runs += 1
        }
        #expect(runs == 2 * 2 * ConfigMutation.Kind.allCases.count * Self.scale)
        #expect(refused > runs / 2, "only \(refused) of \(runs) mutated files were refused")
    }

    /// Runs check on `config`; true if it refused the config (exit 1).
    private func expectCheckEnds(_ config: String, log: String, _ mutation: ConfigMutation) throws -> Bool {
        let (status, errors) = try Self.check(config, log: log)
        let code = ChildProcess.exitCode(status)
        #expect(code == 0 || code == 1, "check ended with wait status \(status): \(mutation)\n→ \(errors.joined(separator: "\n"))")
        guard code == 1 else { return false }
        #expect(errors.last?.hasSuffix("; nothing was started") == true, "\(mutation)\n→ \(errors)")
        for line in errors.dropLast() where !line.hasPrefix("warning: ") {
            // Every problem line starts with a file: the config, or a file it names (a profile).
            #expect(line.hasPrefix("/"), "a problem without its file: \(line)\n\(mutation)")
        }
        return true
    }

    @Test("SIGHUP with mutated configs and profiles: a refused reload leaves the gateway running and polling; a good config is still taken")
    func reloads() async throws {
        let gateway = try GatewayFixture(start: false)
        let log = gateway.folder.path + "/gateway.log"
        let process = try ChildProcess(modbridgeExecutable, ["run", "--config", gateway.configFile], standardErrorFile: log)
        defer { process.stop() }
        #expect(await eventually({ acceptsConnections(port: gateway.port) }, attempts: 1000))
        // The state is retained, so it arrives however late the subscription comes (an event is
        // published at the first read only, the test values never changing).
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/state"])
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") { $0["online"] as? Bool == true } != nil,
                "the device never came online before the probe")

        let profileFile = gateway.folder.path + "/test-oven.json"
        let goodConfig = Array(try Data(contentsOf: URL(fileURLWithPath: gateway.configFile)))
        let goodProfile = Array(GatewayFixture.profile.utf8)
        func count(_ event: String) -> Int {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.components(separatedBy: "event=\(event) ").count - 1
        }
        var outcomes = 0
        /// SIGHUP, then the reload's outcome (refused or reloaded), within a generous bound.
        func reload(_ what: String) async -> Bool {
            outcomes += 1
            kill(process.pid, SIGHUP)
            let ended = await eventually({ count("reload_refused") + count("reloaded") == outcomes || !process.isRunning }, attempts: 1000)
            #expect(process.isRunning, "the gateway ended on a reload: \(what)")
            #expect(ended && process.isRunning, "no outcome of reload \(outcomes): \(what)")
            return count("reload_refused") > 0 && ended
        }

        var refusedRounds = 0
        let configs = ConfigMutation.Kind.allCases.map { ConfigMutation.make($0, of: goodConfig, file: gateway.configFile, seed: 7) }
        let profiles = ConfigMutation.Kind.allCases.map { ConfigMutation.make($0, of: goodProfile, file: profileFile, seed: 7) }
        for (mutation, target) in configs.map({ ($0, gateway.configFile) }) + profiles.map({ ($0, profileFile) }) {
            let refusedBefore = count("reload_refused")
            Self.write(mutation.bytes, to: target)
            _ = await reload("\(mutation)")
            guard process.isRunning else { return }
            if count("reload_refused") > refusedBefore {
                refusedRounds += 1
                // The running config stays: polling goes on.
                let seen = gateway.simulator.requests.count
                #expect(await eventually({ gateway.simulator.requests.count >= seen + 5 }, attempts: 1000), "no polls after a refused reload: \(mutation)")
            }
            // Back to the good files (the next mutation starts from a running good config).
            Self.write(goodConfig, to: gateway.configFile)
            Self.write(goodProfile, to: profileFile)
            if count("reload_refused") == refusedBefore { _ = await reload("restoring after an accepted \(mutation)") }
        }
        #expect(refusedRounds >= ConfigMutation.Kind.allCases.count, "only \(refusedRounds) of the mutations were refused")

        // A good config is still taken, and the gateway polls and publishes after it.
        let reloadedBefore = count("reloaded")
        try GatewayFixture.profile.write(toFile: profileFile, atomically: true, encoding: .utf8)
        try gateway.writeConfig(units: [1], intervals: [1: "200ms"])
        let published = inbox.messages.count
        _ = await reload("a good config")
        #expect(count("reloaded") == reloadedBefore + 1)
        let seen = gateway.simulator.requests.count
        #expect(await eventually({ gateway.simulator.requests.count >= seen + 5 }, attempts: 1000))
        // The restarted device publishes its state again, online.
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state", after: published) { $0["online"] as? Bool == true } != nil)
        await client.close()
    }
}
