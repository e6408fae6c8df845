import Mapping
import TLS

extension RegistryLoader {
    /// The upstream TLS files (CA, client certificates and keys) loaded as the links will load
    /// them, so that `check` reports a file that does not load at its key.
    static func upstreamProblems(_ config: GatewayConfig, file: String) -> [MappingError.Problem] {
        guard let upstream = config.broker.upstream, upstream.tls else { return [] }
        var problems: [MappingError.Problem] = []
        func check(_ configuration: TLSConfiguration, at path: String) {
            do {
                _ = try TLSContext.client(configuration)
            } catch {
                problems.append(.init(file: file, path: path, "\(error)"))
            }
        }
        if let ca = upstream.ca { check(TLSConfiguration(trustedCertificates: .file(ca)), at: upstream.path + ".ca") }
        // The CA is checked once above; each client certificate on its own.
        var logins: [(certificate: String, key: String, path: String)] = []
        if upstream.connection == .shared, let certificate = upstream.certificate, let key = upstream.key {
            logins.append((certificate, key, upstream.path + ".certificate"))
        }
        if upstream.connection == .perDevice {
            for device in config.registries.flatMap(\.devices) {
                guard let login = device.upstream, let certificate = login.certificate, let key = login.key else { continue }
                logins.append((certificate, key, login.path + ".certificate"))
            }
        }
        for login in logins {
            check(TLSConfiguration(certificateChain: .file(login.certificate), privateKey: .file(login.key), trustedCertificates: upstream.ca.map(PEMSource.file)),
                  at: login.path)
        }
        return problems
    }
}
