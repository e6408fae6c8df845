/// What `broker` said about upstream, for the checks that need the registries too.
struct UpstreamParse {
    var mode = "embedded"
    /// Nil when `broker.upstream` did not parse.
    var connection: UpstreamConnectionStyle?
    var tls: Bool?
    /// `clientId` was not given: it becomes "modbridge-" + the first registry's id.
    var defaultsClientID = false
}

/// `broker.upstream` and devices' `upstream` credentials (docs/configuration.md, "`broker.upstream`").
extension ConfigParser {
    /// A login as written: user name, password (inline or a file) and client certificate.
    struct Login {
        var username: String?
        var password: String?
        var passwordFile: String?
        var certificate: String?
        var key: String?
    }

    /// `broker.upstream`; `parse` is told what the registry checks need.
    func upstream(_ reader: ObjectReader, parse: inout UpstreamParse) -> BrokerSettings.Upstream? {
        var reader = reader
        let url = reader.string("url", required: true, expected: "mqtt://host[:port] or mqtts://host[:port]")
        var parsedURL: UpstreamURL?
        if let url {
            switch UpstreamURL.parse(url) {
            case let .success(value): parsedURL = value
            case let .failure(problem): log.report(reader.childPath("url"), "found \"\(url)\", expected \(problem.expected)")
            }
        }
        let connectionText = reader.choice("connection", ["per-device", "shared"])
        let connection = connectionText.flatMap(UpstreamConnectionStyle.init(rawValue:)) ?? .perDevice
        // A wrong style is reported; the checks that depend on the style are then skipped.
        let knownConnection = connectionText != nil || reader.value("connection") == nil ? connection : nil
        parse.connection = knownConnection
        parse.tls = parsedURL?.tls
        let ca = reader.string("ca", expected: "the path of the CA certificates (PEM) the server's certificate must chain to", valid: { !$0.isEmpty })
        let serverName = reader.string("serverName", expected: "the host name to check in the server's certificate", valid: Self.isMQTTString)
        let clientID = reader.string("clientId", expected: "an MQTT client id (1-23 characters is safe with any broker)", valid: Self.isMQTTString)
        let login = login(&reader)
        // MQTT's keep-alive is whole seconds: a fraction is rounded up (0 stays 0: no keep-alive).
        var keepAlive = reader.duration("keepAlive", in: .zero...Duration.seconds(65535)) ?? .seconds(60)
        if keepAlive.components.attoseconds != 0 { keepAlive = .seconds(keepAlive.components.seconds + 1) }
        let cleanSession = reader.bool("cleanSession") ?? false
        let topics = topics(&reader)
        let queue = queue(&reader)
        let dedup = reader.duration("commandDedupWindow", in: .zero...Duration.seconds(86_400)) ?? .seconds(600)
        let reconnect = reconnect(&reader)
        reader.finish()

        if let tls = parsedURL?.tls, !tls {
            // A certificate and its key are one problem, reported at the certificate.
            let keys = ["ca", "serverName", reader.value("certificate") != nil ? "certificate" : "key"]
            for key in keys where reader.value(key) != nil {
                log.report(reader.childPath(key), "applies to mqtts:// only (the url is mqtt://, plain TCP)")
            }
        }
        switch knownConnection {
        case nil:
            break
        case .perDevice:
            for key in ["clientId", "username", "password", "passwordFile", "certificate", "key"] where reader.value(key) != nil {
                log.report(reader.childPath(key), "used only with connection \"shared\"; per-device connections log in with each device's own upstream credentials (registries[].devices[].upstream)")
            }
        case .shared:
            if login.username == nil, login.password != nil || login.passwordFile != nil {
                let key = login.password != nil ? "password" : "passwordFile"
                log.report(reader.childPath(key), "needs a username (MQTT sends a password only with a user name)")
            }
        }
        parse.defaultsClientID = clientID == nil
        guard let parsedURL else { return nil }
        return BrokerSettings.Upstream(
            host: parsedURL.host, port: parsedURL.port, tls: parsedURL.tls, ca: ca, serverName: serverName,
            certificate: login.certificate, key: login.key, username: login.username, password: login.password, passwordFile: login.passwordFile,
            clientID: clientID ?? "modbridge", keepAlive: keepAlive, cleanSession: cleanSession, connection: connection,
            deviceTopic: topics.device, registryTopic: topics.registry, queue: queue, commandDedupWindow: dedup,
            reconnectInitial: reconnect.initial, reconnectMaximum: reconnect.maximum, path: reader.path)
    }

    /// `username`, `password` | `passwordFile`, `certificate` + `key`: the keys a shared
    /// connection and a device's own upstream login have in common.
    func login(_ reader: inout ObjectReader) -> Login {
        var login = Login()
        login.username = reader.string("username", expected: "a user name (not empty)", valid: Self.isMQTTString)
        login.password = reader.string("password", expected: "a password (not empty)", valid: Self.isMQTTString)
        login.passwordFile = reader.string("passwordFile", expected: "the path of a file whose first line is the password", valid: { !$0.isEmpty })
        login.certificate = reader.string("certificate", expected: "the path of the client's certificate chain (PEM)", valid: { !$0.isEmpty })
        login.key = reader.string("key", expected: "the path of the client's private key (PEM)", valid: { !$0.isEmpty })
        if reader.value("password") != nil, reader.value("passwordFile") != nil {
            log.report(reader.childPath("passwordFile"), "give either password or passwordFile, not both")
        }
        let hasCertificate = reader.value("certificate") != nil, hasKey = reader.value("key") != nil
        if hasCertificate != hasKey {
            log.report(reader.childPath(hasCertificate ? "key" : "certificate"), "missing: certificate and key go together (a client certificate needs its private key)")
        }
        return login
    }

    /// `topics`: `{device, registry}` root templates.
    private func topics(_ reader: inout ObjectReader) -> (device: String, registry: String) {
        var result = (device: BrokerSettings.Upstream.defaultDeviceTopic, registry: BrokerSettings.Upstream.defaultRegistryTopic)
        guard var topics = reader.object("topics") else { return result }
        for key in ["device", "registry"] {
            guard let value = topics.value(key) else { continue }
            guard case let .string(text) = value else {
                log.mismatch(topics.childPath(key), found: value, expected: "a topic template such as \"plant/{id}\"")
                continue
            }
            if let problem = TopicTemplate.problem(text) {
                log.report(topics.childPath(key), "found \(value.shortDescription), expected \(problem)")
                continue
            }
            if key == "device" { result.device = text } else { result.registry = text }
        }
        topics.finish()
        if result.device == result.registry {
            log.report(topics.childPath("registry"), "found \"\(result.registry)\", the same as topics.device: a registry's topics must differ from a device's")
        }
        return result
    }

    /// `queue`: `{maxBytes, maxAge, replayRate, sync}`.
    private func queue(_ reader: inout ObjectReader) -> UpstreamQueueSettings {
        var settings = UpstreamQueueSettings()
        guard var queue = reader.object("queue") else { return settings }
        if let bytes = queue.integer("maxBytes", in: 65_536...(1 << 40), expected: "an integer number of bytes 65536...1099511627776 (1 TiB)") {
            settings.maximumBytes = Int(bytes)
        }
        if let age = queue.duration("maxAge", in: Duration.seconds(60)...Duration.seconds(240 * 3600)) { settings.maximumAge = age }
        if let rate = queue.integer("replayRate", in: 0...1_000_000, expected: "messages per second 0...1000000 (0: no cap)") {
            settings.replayRate = Int(rate)
        }
        if let sync = queue.duration("sync", in: Duration.milliseconds(10)...Duration.seconds(60)) { settings.sync = sync }
        queue.finish()
        return settings
    }

    /// `reconnect`: `{initial, max}`, initial ≤ max.
    private func reconnect(_ reader: inout ObjectReader) -> (initial: Duration, maximum: Duration) {
        var result = (initial: Duration.seconds(1), maximum: Duration.seconds(60))
        guard var reconnect = reader.object("reconnect") else { return result }
        let initial = reconnect.duration("initial", in: Duration.milliseconds(10)...Duration.seconds(3600))
        let maximum = reconnect.duration("max", in: Duration.milliseconds(10)...Duration.seconds(86_400))
        reconnect.finish()
        result.initial = initial ?? result.initial
        result.maximum = maximum ?? result.maximum
        if result.initial > result.maximum {
            log.report(reconnect.childPath("initial"), "found \(DurationText.format(result.initial)), expected at most reconnect.max (\(DurationText.format(result.maximum)))")
        }
        return result
    }

    /// A device's `upstream`: its own login on its per-device connection. `polled`: it has bus,
    /// unit or profile (an MQTT device connects on its own, so it has no upstream login here).
    func deviceUpstream(_ reader: inout ObjectReader, polled: Bool) -> UpstreamCredentials? {
        guard var fields = reader.object("upstream") else { return nil }
        let login = login(&fields)
        fields.finish()
        if !polled {
            log.report(fields.path, "applies to a device the gateway polls (with bus, unit and profile); an MQTT device logs in on its own")
        }
        return UpstreamCredentials(username: login.username, password: login.password, passwordFile: login.passwordFile,
                                   certificate: login.certificate, key: login.key, path: fields.path)
    }

    /// Devices' upstream logins against the broker's mode and connection style; the shared
    /// connection's default client id.
    func checkUpstream(_ config: inout GatewayConfig, _ parse: UpstreamParse) {
        if parse.defaultsClientID, var upstream = config.broker.upstream {
            upstream.clientID = config.registries.first.map { "modbridge-" + $0.id } ?? "modbridge"
            config.broker = config.broker.replacingUpstream(upstream)
        }
        for device in config.registries.flatMap(\.devices) {
            guard let credentials = device.upstream else { continue }
            if parse.mode == "embedded" {
                log.report(credentials.path, "applies to broker modes \"upstream\" and \"both\" only")
            } else if parse.connection == .shared {
                log.report(credentials.path, "used only with connection \"per-device\" (the shared connection logs in with broker.upstream's credentials)")
            } else if parse.tls == false, credentials.certificate != nil || credentials.key != nil {
                let key = credentials.certificate != nil ? "certificate" : "key"
                log.report("\(credentials.path).\(key)", "applies to mqtts:// only (broker.upstream.url is mqtt://, plain TCP)")
            }
        }
    }

    /// Not empty, at most 65535 bytes, no U+0000 (MQTT 3.1.1 section 1.5.3).
    static func isMQTTString(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 65535 && !text.unicodeScalars.contains("\u{0}")
    }
}
