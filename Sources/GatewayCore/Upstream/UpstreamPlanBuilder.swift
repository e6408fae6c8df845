import Mapping
import TLS

/// Builds the `UpstreamPlan` of a config: the topic layout, the TLS client contexts (the CA and
/// the shared certificate, each device's own certificate) and the logins, with every problem at
/// its JSON path (a file that does not load, a key that does not match its certificate).
enum UpstreamPlanBuilder {
    static func build(_ config: GatewayConfig, file: String) -> (UpstreamPlan?, [MappingError.Problem]) {
        guard let settings = config.broker.upstream else { return (nil, []) }
        var problems: [MappingError.Problem] = []
        func report(_ path: String, _ message: String) { problems.append(.init(file: file, path: path, message)) }

        if config.storage == nil {
            report("$.storage", "required with an upstream broker: each connection's queue lives in this folder")
        }
        let layout: TopicLayout
        do {
            layout = try TopicLayout(device: settings.deviceTopic, registry: settings.registryTopic)
        } catch {
            report(settings.path + ".topics", "\(error)")
            return (nil, problems)
        }
        // The CA alone first, so that a CA that does not load is reported at its own key (and the
        // certificates below are still checked, each at theirs).
        var trusted = settings.ca.map(PEMSource.file)
        if settings.tls, let ca = settings.ca {
            do {
                _ = try TLSContext.client(TLSConfiguration(trustedCertificates: .file(ca)))
            } catch {
                report(settings.path + ".ca", "\(error)")
                trusted = nil
            }
        }
        /// A client context trusting the configured CA (or the system's), with an optional certificate.
        func context(certificate: String?, key: String?, at path: String) -> TLSContext? {
            guard settings.tls else { return nil }
            var configuration = TLSConfiguration(trustedCertificates: trusted)
            if let certificate, let key {
                configuration.certificateChain = .file(certificate)
                configuration.privateKey = .file(key)
            }
            do {
                return try TLSContext.client(configuration)
            } catch {
                report(path, "\(error)")
                return nil
            }
        }
        let shared = context(certificate: settings.certificate, key: settings.key, at: settings.path + ".certificate")
        let sharedLogin = UpstreamLogin(clientID: settings.clientID, username: settings.username,
                                        password: settings.password.map { Array($0.utf8) })
        var deviceLogins: [String: UpstreamLogin] = [:]
        if settings.connection == .perDevice {
            for registry in config.registries {
                for device in registry.devices where device.modbus != nil {
                    let credentials = device.upstream
                    var login = UpstreamLogin(clientID: device.id, username: device.upstreamUsername,
                                              password: credentials?.password.map { Array($0.utf8) })
                    if let credentials, credentials.certificate != nil {
                        login.tls = context(certificate: credentials.certificate, key: credentials.key, at: credentials.path + ".certificate")
                    }
                    deviceLogins[device.id] = login
                }
            }
        }
        guard problems.isEmpty else { return (nil, problems) }
        return (UpstreamPlan(settings: settings, layout: layout, tls: shared, sharedLogin: sharedLogin, deviceLogins: deviceLogins), problems)
    }
}
