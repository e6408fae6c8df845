import Broker
import Mapping
import Registry
import TLS

/// A listener of the embedded broker as the config asks for it.
package struct GatewayListener: Sendable {
    /// Host, port, `insecure`, and `.tls(context)` for a TLS listener.
    package var configuration: ListenerConfiguration
    /// The server context of a TLS listener, built from its files (nil: plain): the one in `configuration`.
    package var tls: TLSContext? {
        if case let .tls(context) = configuration.security { return context }
        return nil
    }
    /// Where it sits in the config (`$.broker.listeners[0]`).
    package var path: String
}

/// A gateway config with everything the TLS side checks: the registry as the broker's policy
/// uses it, and the listeners with their TLS contexts.
package struct LoadedGateway: Sendable {
    package var configuration: LoadedConfiguration
    package var registry: RegistryDirectory
    /// Empty in upstream mode (no embedded broker).
    package var listeners: [GatewayListener]
    /// The upstream broker's side (modes upstream and both); nil in embedded mode.
    package var upstream: UpstreamPlan?
}

/// Loads a gateway config (`ConfigurationLoader`) and, in the same pass, what Mapping cannot
/// check without TLS: certificate files and fingerprints, password hashes, TLS listeners' files,
/// the upstream broker's CA and client certificates.
/// Every problem of both stages comes in one `MappingError`, in one format.
package enum RegistryLoader {
    /// Hashes cheaper than this are refused: they would give little protection if the config leaked.
    package static let minimumHashIterations = 100_000
    /// Client certificates are asked for and judged by the registry (registered fingerprints,
    /// validity dates), never by a CA: docs/iot-core.md, "no CA chain is required".
    static let clientCertificates: ClientCertificatePolicy = .requestedUnverified

    package static func load(configFile: String) throws(MappingError) -> LoadedGateway {
        var built: (RegistryDirectory, [GatewayListener], UpstreamPlan?)?
        let configuration = try ConfigurationLoader.load(configFile: configFile) { config in
            let (registry, listeners, problems) = build(config, file: configFile)
            let (upstream, upstreamProblems) = UpstreamPlanBuilder.build(config, file: configFile)
            built = (registry, listeners, upstream)
            return problems + upstreamProblems
        }
        guard let (registry, listeners, upstream) = built else { throw MappingError(file: configFile, "the registry was not built") }
        return LoadedGateway(configuration: configuration, registry: registry, listeners: listeners, upstream: upstream)
    }

    /// The registry and listeners of `config`, with every problem found in making them.
    static func build(_ config: GatewayConfig, file: String) -> (RegistryDirectory, [GatewayListener], [MappingError.Problem]) {
        var problems: [MappingError.Problem] = []
        var listeners: [GatewayListener] = []
        for listener in config.broker.listeners {
            var context: TLSContext?
            if let files = listener.tls {
                do {
                    context = try TLSContext.server(TLSConfiguration(certificateChain: .file(files.certificate), privateKey: .file(files.key),
                                                                     clientCertificates: clientCertificates))
                } catch {
                    problems.append(.init(file: file, path: listener.path + ".tls", "\(error)"))
                }
            }
            listeners.append(GatewayListener(configuration: ListenerConfiguration(host: listener.host, port: listener.port,
                                                                                  security: context.map(ListenerSecurity.tls) ?? .plain,
                                                                                  insecure: listener.insecure,
                                                                                  anonymousEntity: listener.anonymousAs,
                                                                                  kind: listener.http.map { .http(HTTPServices($0)) } ?? .mqtt),
                                             path: listener.path))
        }
        var credentials = CredentialBuilder(file: file)
        let registries = config.registries.map { registry in
            RegistryEntry(id: registry.id, name: registry.name, disabled: registry.disabled,
                          credentials: credentials.add(registry.credentials, owner: "registry \"\(registry.id)\""),
                          devices: registry.devices.map { device in
                              DeviceEntry(id: device.id, name: device.name, aliases: device.aliases,
                                          credentials: credentials.add(device.credentials, owner: "device \"\(device.id)\""),
                                          isGatewayDevice: device.modbus != nil)
                          })
        }
        problems += credentials.problems
        return (RegistryDirectory(registries: registries, messagesPerSecond: config.messagesPerSecond), listeners, problems)
    }
}

/// Turns credential settings into hashes and fingerprints, and finds a certificate attached twice
/// (by SHA-256 or SHA-1, between files and fingerprint strings alike).
private struct CredentialBuilder {
    let file: String
    private(set) var problems: [MappingError.Problem] = []
    /// Fingerprint hex (SHA-256 and, for files, SHA-1 too) → the path and owner of its first use.
    private var attached: [String: (path: String, owner: String)] = [:]

    init(file: String) {
        self.file = file
    }

    mutating func add(_ settings: CredentialSettings, owner: String) -> Credentials {
        var credentials = Credentials()
        for password in settings.passwords {
            do {
                let hash = try PasswordHash(parsing: password.hash)
                if hash.iterations < RegistryLoader.minimumHashIterations {
                    report(password.path, "weak hash: \(hash.iterations) iterations, expected at least \(RegistryLoader.minimumHashIterations); make a new one with `modbridge passwd`")
                    continue
                }
                credentials.passwordHashes.append(hash)
            } catch {
                report(password.path, "\(error); make one with `modbridge passwd`")
            }
        }
        for certificate in settings.certificates {
            let fingerprint: CertificateFingerprint
            var keys: [String]
            switch certificate.source {
            case let .file(path):
                do {
                    let loaded = try Certificate.load(.file(path))
                    guard let sha256 = CertificateFingerprint(loaded.sha256Fingerprint) else { continue }
                    fingerprint = sha256
                    keys = [loaded.sha256Fingerprint, loaded.sha1Fingerprint]
                } catch {
                    report(certificate.path, "\(error)")
                    continue
                }
            case let .fingerprint(hex):
                guard let parsed = CertificateFingerprint(hex) else { continue }  // the parser checked it
                fingerprint = parsed
                keys = [parsed.hex]
            }
            if let first = keys.compactMap({ attached[$0] }).first {
                report(certificate.path, "certificate \(fingerprint.hex) is already attached to \(first.owner) at \(first.path): a certificate may be attached to one device or registry only")
                continue
            }
            for key in keys { attached[key] = (certificate.path, owner) }
            credentials.certificates.append(fingerprint)
        }
        return credentials
    }

    private mutating func report(_ path: String, _ message: String) {
        problems.append(.init(file: file, path: path, message))
    }
}

extension HTTPServices {
    /// What the config's `"serve"` lists.
    init(_ serve: BrokerSettings.HTTPServe) {
        self = []
        if serve.webSocket { insert(.webSocket) }
        if serve.console { insert(.console) }
        if serve.metrics { insert(.metrics) }
    }
}
