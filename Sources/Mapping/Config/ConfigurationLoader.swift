/// A config with every profile it uses, checked together.
package struct LoadedConfiguration: Sendable {
    package var file: String
    package var config: GatewayConfig
    /// Every profile found, by model.
    package var profiles: [String: DeviceProfile]
    /// Every device with its bus and its profile (overrides applied), in config order.
    package var devices: [ResolvedDevice]
    /// Things that are allowed but worth saying (an unverified profile in use).
    package var warnings: [MappingError.Problem]
    /// The storage folder, resolved against the config file's folder.
    package var storagePath: String?
}

/// A polled device ready to run: its settings, its bus, its unit and its effective profile.
package struct ResolvedDevice: Sendable, Equatable {
    package var registry: String
    package var settings: DeviceSettings
    package var bus: BusSettings
    package var unit: UInt8
    package var profile: DeviceProfile
}

/// Reads a gateway config and its profiles from disk and checks them together; every problem of
/// every file is reported in one `MappingError`.
package enum ConfigurationLoader {
    /// Loads `configFile`. `stage` checks what this module cannot (certificate files, password
    /// hashes: the gateway's TLS side); it sees the config as far as it parsed, also when it has
    /// errors, and its problems are reported with the others, so one run lists every error.
    package static func load(configFile: String,
                             stage: (GatewayConfig) -> [MappingError.Problem] = { _ in [] }) throws(MappingError) -> LoadedConfiguration {
        let log = ProblemLog(file: configFile)
        let data = try read(configFile)
        let tree = try JSONValue.parse(data, file: configFile)
        guard var config = ConfigParser(log: log).config(tree) else { try log.check(); throw MappingError(file: configFile, "not a config") }
        let base = folder(of: configFile)
        resolvePaths(&config, against: base)
        readPasswordFiles(&config, log: log)
        let stageProblems = stage(config)
        var problems: [MappingError.Problem] = []
        var profiles: [String: (DeviceProfile, JSONValue, String)] = [:]
        // A pure IoT Core (no device on a bus) needs no profile folder.
        let pollsDevices = config.registries.contains { $0.devices.contains { $0.modbus != nil } }
        for (index, entry) in config.profiles.enumerated() {
            let path = resolve(entry, against: base)
            guard let files = profileFiles(at: path) else {
                if pollsDevices { log.report("$.profiles[\(index)]", "\(path): no such folder or file") }
                continue
            }
            // The config itself may sit in a profile folder.
            let profileFiles = files.filter { standardized($0) != standardized(configFile) }
            if profileFiles.isEmpty { log.report("$.profiles[\(index)]", "\(path): no *.json profile in this folder") }
            for file in profileFiles {
                do {
                    let tree = try JSONValue.parse(try read(file), file: file)
                    let profile = try DeviceProfile.parse(tree, file: file)
                    let name = file.split(separator: "/").last ?? ""
                    let expected = String(name.hasSuffix(".json") ? name.dropLast(".json".count) : name)
                    if profile.model != expected {
                        problems.append(.init(file: file, path: "$.model", "found \"\(profile.model)\", expected \"\(expected)\" (the file name)"))
                    }
                    if let (_, _, other) = profiles[profile.model] {
                        problems.append(.init(file: file, path: "$.model", "\"\(profile.model)\" is already the model of \(other)"))
                        continue
                    }
                    profiles[profile.model] = (profile, tree, file)
                } catch {
                    problems += error.problems
                }
            }
        }
        var devices: [ResolvedDevice] = []
        var warnings: [MappingError.Problem] = []
        for registry in config.registries {
            for device in registry.devices {
                guard let modbus = device.modbus else { continue }  // an MQTT device: nothing to poll
                guard let (profile, tree, file) = profiles[modbus.profile] else {
                    if !profiles.isEmpty || config.profiles.isEmpty {
                        log.report("\(device.path).profile", "found \"\(modbus.profile)\", expected one of \(profiles.keys.sorted().joined(separator: ", "))")
                    } else {
                        log.report("\(device.path).profile", "found \"\(modbus.profile)\", but no profile could be loaded")
                    }
                    continue
                }
                var effective = profile
                if let overrides = modbus.overrides {
                    let merged = ProfileOverrides.apply(overrides, to: tree, path: "\(device.path).overrides", log: log)
                    do {
                        effective = try DeviceProfile.parse(merged, file: "\(configFile): \(device.path) (profile \(profile.model) with overrides)")
                    } catch {
                        problems += error.problems
                        continue
                    }
                }
                guard let bus = config.bus(modbus.bus) else { continue }  // reported by the parser
                if !effective.verified {
                    warnings.append(.init(file: configFile, path: device.path, "device \"\(device.id)\" uses the unverified profile \(profile.model) (\(file)): check its registers on the hardware"))
                }
                devices.append(ResolvedDevice(registry: registry.id, settings: device, bus: bus, unit: modbus.unit, profile: effective))
            }
        }
        let all = log.problems + stageProblems + problems
        if !all.isEmpty { throw MappingError(problems: all) }
        return LoadedConfiguration(file: configFile, config: config, profiles: profiles.mapValues(\.0), devices: devices,
                                   warnings: warnings, storagePath: config.storage.map { resolve($0, against: base) })
    }

    /// A serial line's device, a TLS listener's files, certificate files and upstream files are,
    /// like profiles and storage, relative to the config's folder.
    private static func resolvePaths(_ config: inout GatewayConfig, against base: String) {
        for index in config.buses.indices {
            if case let .rtu(device, line) = config.buses[index].kind {
                config.buses[index].kind = .rtu(device: resolve(device, against: base), line: line)
            }
        }
        var listeners = config.broker.listeners
        for index in listeners.indices {
            guard let tls = listeners[index].tls else { continue }
            listeners[index].tls = .init(certificate: resolve(tls.certificate, against: base), key: resolve(tls.key, against: base))
        }
        config.broker = config.broker.replacingListeners(listeners)
        resolveUpstreamPaths(&config, against: base)
        func resolveFiles(_ credentials: inout CredentialSettings) {
            for index in credentials.certificates.indices {
                if case let .file(path) = credentials.certificates[index].source {
                    credentials.certificates[index].source = .file(resolve(path, against: base))
                }
            }
        }
        for registry in config.registries.indices {
            resolveFiles(&config.registries[registry].credentials)
            for device in config.registries[registry].devices.indices {
                resolveFiles(&config.registries[registry].devices[device].credentials)
            }
        }
    }

    static func read(_ path: String) throws(MappingError) -> [UInt8] {
        switch ConfigFiles.read(path) {
        case let .success(bytes): return bytes
        case let .failure(failure): throw MappingError(file: path, "cannot read the file: \(failure.reason)")
        }
    }

    /// `*.json` files of a folder, sorted; the file itself; nil if neither exists.
    private static func profileFiles(at path: String) -> [String]? {
        guard let isFolder = ConfigFiles.isFolder(path) else { return nil }
        guard isFolder else { return [path] }
        return ConfigFiles.names(in: path).filter { $0.hasSuffix(".json") }.sorted().map { path.hasSuffix("/") ? path + $0 : path + "/" + $0 }
    }

    private static func standardized(_ path: String) -> String {
        ConfigFiles.standardized(path)
    }

    private static func folder(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        let folder = file[..<slash]
        return folder.isEmpty ? "/" : String(folder)
    }

    static func resolve(_ path: String, against base: String) -> String {
        path.hasPrefix("/") || base == "." ? path : base + "/" + path
    }
}
