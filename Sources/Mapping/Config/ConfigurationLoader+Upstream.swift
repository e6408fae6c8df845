
/// The files of `broker.upstream` and of devices' `upstream` logins: paths resolved against the
/// config's folder, password files read (the password is their first line).
extension ConfigurationLoader {
    static func resolveUpstreamPaths(_ config: inout GatewayConfig, against base: String) {
        func resolved(_ path: String?) -> String? { path.map { resolve($0, against: base) } }
        if var upstream = config.broker.upstream {
            upstream.ca = resolved(upstream.ca)
            upstream.certificate = resolved(upstream.certificate)
            upstream.key = resolved(upstream.key)
            upstream.passwordFile = resolved(upstream.passwordFile)
            config.broker = config.broker.replacingUpstream(upstream)
        }
        for registry in config.registries.indices {
            for device in config.registries[registry].devices.indices {
                guard var credentials = config.registries[registry].devices[device].upstream else { continue }
                credentials.certificate = resolved(credentials.certificate)
                credentials.key = resolved(credentials.key)
                credentials.passwordFile = resolved(credentials.passwordFile)
                config.registries[registry].devices[device].upstream = credentials
            }
        }
    }

    /// Sets each `password` from its (resolved) `passwordFile`; a file that cannot be read or
    /// whose first line is empty is reported at the key's path, naming the file.
    static func readPasswordFiles(_ config: inout GatewayConfig, log: ProblemLog) {
        if var upstream = config.broker.upstream, let file = upstream.passwordFile {
            upstream.password = password(in: file, path: upstream.path + ".passwordFile", log: log)
            config.broker = config.broker.replacingUpstream(upstream)
        }
        for registry in config.registries.indices {
            for device in config.registries[registry].devices.indices {
                guard var credentials = config.registries[registry].devices[device].upstream, let file = credentials.passwordFile else { continue }
                credentials.password = password(in: file, path: credentials.path + ".passwordFile", log: log)
                config.registries[registry].devices[device].upstream = credentials
            }
        }
    }

    /// The first line of `file` (without its line end); nil (reported) if there is none.
    private static func password(in file: String, path: String, log: ProblemLog) -> String? {
        let bytes: [UInt8]
        do {
            bytes = try read(file)
        } catch {
            // The message is "<file>: cannot read the file: <reason>"; the password is never echoed.
            log.report(path, "\(file): \(error.message)")
            return nil
        }
        var line = bytes.prefix { $0 != UInt8(ascii: "\n") }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard !line.isEmpty else {
            log.report(path, "\(file): the first line is empty, expected the password")
            return nil
        }
        guard let text = String(validating: line, as: UTF8.self), ConfigParser.isMQTTString(text) else {
            log.report(path, "\(file): the first line is not a valid password (UTF-8 text without NUL, at most 65535 bytes)")
            return nil
        }
        return text
    }
}
