import Glibc

/// A password login of a MosquittoUpstream.
package struct MosquittoUser: Sendable, Equatable {
    package var name: String
    package var password: String

    package init(_ name: String, password: String) {
        self.name = name
        self.password = password
    }
}

/// What a MosquittoUpstream serves: its users, who may use which topics, persistence, TLS.
package struct MosquittoUpstreamOptions {
    /// Password logins (device users), on the plain listener and the TLS password listener.
    package var users: [MosquittoUser]
    /// ACL `pattern readwrite` lines every user gets; `%u` is the user name (from the password
    /// login or the client certificate's CN), `%c` the client id. Mosquitto's ACL wildcards follow
    /// the spec's rule, so `#` never covers a topic beginning with `$`: such roots are listed apart.
    package var devicePatterns: [String]
    /// The user that may read and write every topic below `consumerTopics` (a cloud application).
    package var consumer: MosquittoUser
    /// The consumer's `topic readwrite` lines; `#` does not cover `$devices/...` (see devicePatterns).
    package var consumerTopics: [String]
    /// Further ACL lines, as written in an acl_file (e.g. `pattern read $registries/plant/#`).
    package var extraACL: [String]
    /// Sessions and retained messages kept across stop/start: written to the fixture's folder on a
    /// clean stop (SIGTERM), so a `kill()` loses what changed since the start.
    package var persistence: Bool
    /// Messages queued per client (offline persistent sessions, slow readers). Mosquitto's default,
    /// 1000, would hide a gateway's backlog behind the broker's own drops. Not 0 ("no bound"):
    /// 2.0.11 then disconnects every client whose publish it denies (it compares its count of
    /// packets waiting to be sent with the bound and finds the quota exceeded).
    package var maximumQueuedMessages: Int
    /// TLS listeners with `server.pem`/`server.key` of these certificates (SANs: DNS server.test and
    /// IP 127.0.0.1), trusting their `ca.pem` for clients; nil: the plain listener only.
    package var certificates: TestCertificates?

    package init(users: [MosquittoUser] = [],
                 devicePatterns: [String] = ["plant/%u/#", "$devices/%u/#"],
                 consumer: MosquittoUser = MosquittoUser("consumer", password: "consumer-password"),
                 consumerTopics: [String] = ["#", "$devices/#", "$registries/#"],
                 extraACL: [String] = [],
                 persistence: Bool = false,
                 maximumQueuedMessages: Int = 1_000_000,
                 certificates: TestCertificates? = nil) {
        self.users = users
        self.devicePatterns = devicePatterns
        self.consumer = consumer
        self.consumerTopics = consumerTopics
        self.extraACL = extraACL
        self.persistence = persistence
        self.maximumQueuedMessages = maximumQueuedMessages
        self.certificates = certificates
    }

    /// The acl_file's text.
    var accessControlList: String {
        var lines = devicePatterns.map { "pattern readwrite \($0)" }
        lines += extraACL
        // `user` starts the consumer's own section: it stays last so the extra lines above never fall into it.
        lines.append("user \(consumer.name)")
        lines += consumerTopics.map { "topic readwrite \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Where the fixture's files are, and which ports it serves.
struct MosquittoLayout {
    let folder: String
    let port: UInt16
    let tlsPort: UInt16?
    let tlsPasswordPort: UInt16?

    var configurationPath: String { folder + "/mosquitto.conf" }
    var passwordPath: String { folder + "/passwords" }
    var accessPath: String { folder + "/acl" }
    var logPath: String { folder + "/mosquitto.log" }
    var standardErrorPath: String { folder + "/mosquitto.stderr" }
    /// Mosquitto appends `mosquitto.db` to it as it is written: the trailing slash is needed.
    var persistencePath: String { folder + "/persistence/" }

    /// The mosquitto.conf text for `options`.
    func configuration(_ options: MosquittoUpstreamOptions) -> String {
        var lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            "password_file \(passwordPath)",
            "acl_file \(accessPath)",
            "persistence \(options.persistence)",
            "persistence_location \(persistencePath)",
            "max_queued_messages \(options.maximumQueuedMessages)",
            "set_tcp_nodelay true",
            "log_dest file \(logPath)",
            "log_type all",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        // Started as root, Mosquitto 2 drops to the `mosquitto` user, which cannot write the log
        // or the database in a folder only root may enter.
        if geteuid() == 0 { lines.append("user root") }
        lines.append("listener \(port) 127.0.0.1")
        if let certificates = options.certificates {
            let tls = ["cafile \(certificates.path("ca.pem"))", "certfile \(certificates.path("server.pem"))",
                       "keyfile \(certificates.path("server.key"))"]
            if let tlsPort {
                lines.append("listener \(tlsPort) 127.0.0.1")
                lines += tls
                lines += ["require_certificate true", "use_identity_as_username true"]
            }
            if let tlsPasswordPort {
                lines.append("listener \(tlsPasswordPort) 127.0.0.1")
                lines += tls
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Why a MosquittoUpstream could not be set up or started.
package enum MosquittoUpstreamError: Error, CustomStringConvertible {
    case cannotWrite(path: String, errno: Int32)
    case passwordFileFailed(user: String, reason: String)
    case cannotStart(String)
    case notListening(ports: [UInt16], log: String)
    case noReload(log: String)

    package var description: String {
        switch self {
        case let .cannotWrite(path, code): "MosquittoUpstream: cannot write \(path): \(String(cString: strerror(code)))"
        case let .passwordFileFailed(user, reason): "MosquittoUpstream: mosquitto_passwd for \(user) failed: \(reason)"
        case let .cannotStart(reason): "MosquittoUpstream: \(reason)"
        case let .notListening(ports, log): "MosquittoUpstream: mosquitto never accepted on \(ports); its log and stderr:\n\(log)"
        case let .noReload(log): "MosquittoUpstream: mosquitto did not reload within 10 s of SIGHUP; its log:\n\(log)"
        }
    }
}
