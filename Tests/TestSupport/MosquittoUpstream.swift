import Glibc
import MQTT
import MQTTClient

/// A Mosquitto (Debian's 2.0) as an upstream broker for tests: on 127.0.0.1 with free ports, a
/// plain listener for password logins, and with `options.certificates` a TLS listener that
/// requires a client certificate and takes its CN as the user name, and a TLS listener for
/// password logins. An ACL lets each device user use only its own topics and the consumer all of
/// them. `stop()` and `start()` restart it on the same ports (an outage); deinit stops it.
package final class MosquittoUpstream {
    package let options: MosquittoUpstreamOptions
    package let host = "127.0.0.1"
    /// The plain listener (password logins).
    package var port: UInt16 { layout.port }
    /// The TLS listener that requires a client certificate (CN = user name); nil without certificates.
    package var tlsPort: UInt16? { layout.tlsPort }
    /// The TLS listener for password logins (no client certificate); nil without certificates.
    package var tlsPasswordPort: UInt16? { layout.tlsPasswordPort }
    /// Mosquitto's log (`log_type all`), appended by every start: denied publishes show here.
    package var logPath: String { layout.logPath }
    /// The fixture's folder (configuration, password file, ACL, log, persistence).
    package var folderPath: String { folder.path }

    private let folder = TemporaryFolder()
    private let layout: MosquittoLayout
    private var process: ChildProcess?
    /// The password file's logins as the fixture last wrote them.
    private var passwords: [String: String] = [:]

    /// Writes the password file, the ACL and the configuration, then starts Mosquitto.
    package init(_ options: MosquittoUpstreamOptions = MosquittoUpstreamOptions()) throws(MosquittoUpstreamError) {
        self.options = options
        let secure = options.certificates != nil
        layout = MosquittoLayout(folder: folder.path, port: freePort(), tlsPort: secure ? freePort() : nil,
                                 tlsPasswordPort: secure ? freePort() : nil)
        try writeFile(layout.passwordPath, "")
        for user in options.users + [options.consumer] { try addPassword(user) }
        try writeFile(layout.accessPath, options.accessControlList)
        try writeFile(layout.configurationPath, layout.configuration(options))
        if mkdir(layout.persistencePath, 0o700) != 0 { throw .cannotWrite(path: layout.persistencePath, errno: errno) }
        try start()
    }

    deinit { stop() }

    /// Every port it listens on.
    package var ports: [UInt16] { [layout.port, layout.tlsPort, layout.tlsPasswordPort].compactMap { $0 } }

    /// True while the Mosquitto process runs.
    package var isRunning: Bool { process?.isRunning ?? false }

    /// Starts Mosquitto (again) on the same ports; returns once every listener accepts (bounded: 10 s).
    package func start() throws(MosquittoUpstreamError) {
        guard process == nil else { return }
        let started: ChildProcess
        do {
            started = try ChildProcess(mosquittoExecutable, ["-c", layout.configurationPath], standardErrorFile: layout.standardErrorPath)
        } catch {
            throw .cannotStart("\(error)")
        }
        process = started
        for _ in 0..<1000 {
            if ports.allSatisfy({ acceptsConnections(port: $0) }) { return }
            guard started.isRunning else { break }
            usleep(10_000)
        }
        stop()
        throw .notListening(ports: ports, log: readText(layout.logPath) + readText(layout.standardErrorPath))
    }

    /// SIGTERM and waits for the exit (SIGKILL after 5 s): with persistence, the database is written.
    package func stop() {
        process?.stop()
        process = nil
    }

    /// SIGKILL, as a crash would end it: nothing more is written.
    package func kill() {
        process?.kill()
        process = nil
    }

    /// `stop()` then `start()`.
    package func restart() throws(MosquittoUpstreamError) {
        stop()
        try start()
    }

    /// Mosquitto's log so far, for a failing test's message.
    package var log: String { readText(layout.logPath) }

    /// A modbridge MQTT client logged in on the plain listener as `username`, with `password` or
    /// else the user's own.
    package func connect(as username: String, password: String? = nil, clientIdentifier: String? = nil,
                         cleanSession: Bool = true) async throws(MQTTError) -> MQTTClient {
        let connect = Connect(clientIdentifier: clientIdentifier ?? username, cleanSession: cleanSession, keepAlive: 30,
                              username: username, password: (password ?? passwords[username]).map { Array($0.utf8) })
        return try await MQTTClient.connect(MQTTClientConfiguration(host: host, port: port, connect: connect))
    }

    /// The consumer logged in on the plain listener.
    package func connectConsumer(clientIdentifier: String = "consumer", cleanSession: Bool = true) async throws(MQTTError) -> MQTTClient {
        try await connect(as: options.consumer.name, clientIdentifier: clientIdentifier, cleanSession: cleanSession)
    }

    /// Adds or replaces a password login, then has the running Mosquitto reload (see `reload`).
    package func setPassword(_ password: String, for username: String) throws(MosquittoUpstreamError) {
        try addPassword(MosquittoUser(username, password: password))
        try reload()
    }

    /// Removes a password login (its next login gets CONNACK 5), then has the running Mosquitto reload.
    package func removeUser(_ username: String) throws(MosquittoUpstreamError) {
        try runPasswordTool(["-D", layout.passwordPath, username], user: username)
        passwords[username] = nil
        try reload()
    }

    /// SIGHUP: Mosquitto reads its password file and ACL again. Returns once its log says it began
    /// (the reload runs whole in that turn of its loop, so later logins see the new files);
    /// connections already open keep their login.
    package func reload() throws(MosquittoUpstreamError) {
        guard let process, process.isRunning else { return }
        let marker = "Reloading config."
        let before = log.ranges(of: marker).count
        Glibc.kill(process.pid, SIGHUP)
        for _ in 0..<1000 {
            if log.ranges(of: marker).count > before { return }
            usleep(10_000)
        }
        throw .noReload(log: log)
    }

    /// `mosquitto_passwd -b` adds or replaces `user` in the password file.
    private func addPassword(_ user: MosquittoUser) throws(MosquittoUpstreamError) {
        try runPasswordTool(["-b", layout.passwordPath, user.name, user.password], user: user.name)
        passwords[user.name] = user.password
    }

    private func runPasswordTool(_ arguments: [String], user: String) throws(MosquittoUpstreamError) {
        let status: Int32
        do {
            status = try ChildProcess("mosquitto_passwd", arguments).waitForExit(timeout: .seconds(30))
        } catch {
            throw .passwordFileFailed(user: user, reason: "\(error)")
        }
        guard ChildProcess.exitCode(status) == 0 else { throw .passwordFileFailed(user: user, reason: "status \(status)") }
    }

    private func writeFile(_ path: String, _ text: String) throws(MosquittoUpstreamError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .cannotWrite(path: path, errno: errno) }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw .cannotWrite(path: path, errno: errno) }
            written += count
        }
    }
}

/// Mosquitto's path on Debian (/usr/sbin is not in every PATH), else looked up in PATH.
package var mosquittoExecutable: String {
    access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto"
}

/// A file's text; empty if it cannot be read.
private func readText(_ path: String) -> String {
    String(decoding: readFileBytes(path) ?? [], as: UTF8.self)
}
