import Foundation
import Glibc
import TestSupport
import TLS

/// `modbridge run` (the built binary) as a local IoT Core for the end-to-end tests: certificates
/// from the `openssl` CLI, a config in a temporary folder with a TLS listener, a plain listener
/// and a plain `insecure` one (all on 127.0.0.1), registries `plant` (devices `sensor-1`,
/// `sensor-2`, `sensor-3`), `other` (device `foreign`) and the disabled `old` (device `legacy`).
/// Its log (stderr) goes to `log`. Stopped by the test (and on deinit).
final class IoTCoreGateway {
    static let plantPassword = "Plant-registry-pw1"
    static let sensorPassword = "Sensor-1-password"
    static let otherPassword = "Other-registry-pw2"
    static let foreignPassword = "Foreign-device-pw3"
    static let legacyPassword = "Legacy-device-pw4"

    /// The hashes of the passwords above (100,000 iterations, the fewest the loader takes), made
    /// once: each costs a slow hash.
    static let hashes: [String: String] = {
        var hashes: [String: String] = [:]
        for password in [plantPassword, sensorPassword, otherPassword, foreignPassword, legacyPassword] {
            hashes[password] = (try? PasswordHash.make(password: password, iterations: 100_000))?.encoded ?? "unhashable"
        }
        return hashes
    }()

    let certificates: TestCertificates
    let folder = TemporaryFolder()
    let tlsPort = freePort()
    let plainPort = freePort()
    let insecurePort = freePort()
    private var process: ChildProcess?
    private var starts = 0

    var configPath: String { folder.path + "/modbridge.json" }
    /// The log of the current run (each start writes a new file).
    var logPath: String { folder.path + "/gateway-\(starts).log" }

    init() throws {
        certificates = try TestCertificates()
        // A certificate no entity has.
        try certificates.makeSelfSigned("stranger", subject: "/CN=stranger", days: "30")
        // sensor-1's certificate is registered as `openssl x509 -fingerprint -sha256` prints it.
        let fingerprint = try certificates.fingerprintByCLI("device", digest: "sha256")
        func hash(_ password: String) -> String { Self.hashes[password] ?? "missing" }
        let config = """
        { "broker": { "listeners": [
            { "host": "127.0.0.1", "port": \(tlsPort),
              "tls": { "certificate": "\(certificates.path("server.pem"))", "key": "\(certificates.path("server.key"))" } },
            { "host": "127.0.0.1", "port": \(plainPort) },
            { "host": "127.0.0.1", "port": \(insecurePort), "insecure": true } ] },
          "storage": "storage",
          "registries": [
            { "id": "plant", "credentials": { "passwords": ["\(hash(Self.plantPassword))"] },
              "devices": [
                { "id": "sensor-1", "aliases": ["plant/sensor1/"],
                  "credentials": { "passwords": ["\(hash(Self.sensorPassword))"], "certificates": [{ "fingerprint": "\(fingerprint)" }] } },
                { "id": "sensor-2", "credentials": { "certificates": [{ "file": "\(certificates.path("device-expired.pem"))" }] } },
                { "id": "sensor-3", "credentials": { "certificates": [{ "file": "\(certificates.path("client.pem"))" }] } } ] },
            { "id": "other", "credentials": { "passwords": ["\(hash(Self.otherPassword))"] },
              "devices": [{ "id": "foreign", "credentials": { "passwords": ["\(hash(Self.foreignPassword))"] } }] },
            { "id": "old", "disabled": true,
              "devices": [{ "id": "legacy", "credentials": { "passwords": ["\(hash(Self.legacyPassword))"] } }] } ] }
        """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        try start()
    }

    deinit { stop() }

    /// Starts `modbridge run --config` and waits (bounded: 10 s) until all three listeners accept.
    func start() throws {
        starts += 1
        let process = try ChildProcess(modbridgeExecutable, ["run", "--config", configPath], standardErrorFile: logPath)
        self.process = process
        for _ in 0..<1000 {
            if [tlsPort, plainPort, insecurePort].allSatisfy({ acceptsConnections(port: $0) }) { return }
            guard process.isRunning else { break }
            usleep(10_000)
        }
        stop()
        throw IoTCoreGatewayError.notListening((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }

    /// SIGTERM (a clean stop), SIGKILL after 5 s.
    func stop() {
        process?.stop()
        process = nil
    }

    func restart() throws {
        stop()
        try start()
    }

    /// The gateway's log so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    // MARK: - mosquitto_pub and mosquitto_sub

    /// How a client logs in: a username and password, a client certificate (`name.pem`/`name.key`
    /// of `certificates`), or both.
    struct Login {
        var username: String?
        var password: String?
        var certificate: String?

        static func password(_ username: String, _ password: String) -> Login { Login(username: username, password: password) }
        static func certificate(_ name: String, username: String? = nil) -> Login { Login(username: username, certificate: name) }
        static let plant = password("plant", IoTCoreGateway.plantPassword)
        static let sensor1 = password("sensor-1", IoTCoreGateway.sensorPassword)
        static let other = password("other", IoTCoreGateway.otherPassword)
        static let foreign = password("foreign", IoTCoreGateway.foreignPassword)
    }

    enum Listener { case tls, plain, insecure }

    /// The connection options of mosquitto_pub/mosquitto_sub for `login` on `listener`.
    func options(_ login: Login, on listener: Listener) -> [String] {
        var arguments = ["-h", "127.0.0.1", "-V", "mqttv311"]
        switch listener {
        case .tls: arguments += ["-p", String(tlsPort), "--cafile", certificates.path("ca.pem")]
        case .plain: arguments += ["-p", String(plainPort)]
        case .insecure: arguments += ["-p", String(insecurePort)]
        }
        if let username = login.username { arguments += ["-u", username] }
        if let password = login.password { arguments += ["-P", password] }
        if let name = login.certificate { arguments += ["--cert", certificates.path(name + ".pem"), "--key", certificates.path(name + ".key")] }
        return arguments
    }

    /// What a mosquitto_pub run ended with: its exit code (nil: killed) and its stderr.
    struct Outcome {
        let exitCode: Int32?
        let error: String
        var succeeded: Bool { exitCode == 0 }
        var notAuthorised: Bool { exitCode != 0 && error.contains("not authorised") }
        var badPassword: Bool { exitCode != 0 && error.contains("bad user name or password") }
    }

    private var outputs = 0

    /// Runs mosquitto_pub (QoS 1, so that it waits for the PUBACK) to its end (bounded: 20 s).
    func publish(_ login: Login, _ topic: String, _ message: String, on listener: Listener = .tls) throws -> Outcome {
        outputs += 1
        let errorFile = folder.path + "/pub-\(outputs).err"
        let publisher = try ChildProcess("mosquitto_pub", options(login, on: listener) + ["-q", "1", "-t", topic, "-m", message],
                                         standardErrorFile: errorFile)
        let status = publisher.waitForExit(timeout: .seconds(20))
        return Outcome(exitCode: ChildProcess.exitCode(status), error: (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "")
    }

    /// mosquitto_sub for `topics` (QoS 1), printing `msg <retain> <topic> <payload>` per message;
    /// `-d` (line-buffered by stdbuf) makes it print the SUBACK's codes.
    func subscribe(_ login: Login, _ topics: [String], on listener: Listener = .tls) throws -> Subscriber {
        var arguments = ["-oL", "mosquitto_sub"] + options(login, on: listener) + ["-d", "-q", "1", "-W", "60", "-F", "msg %r %t %p"]
        for topic in topics { arguments += ["-t", topic] }
        outputs += 1
        let errorFile = folder.path + "/sub-\(outputs).err"
        return Subscriber(try ChildProcess("stdbuf", arguments, standardErrorFile: errorFile), errorFile: errorFile)
    }

    /// A running mosquitto_sub, read line by line.
    final class Subscriber {
        let process: ChildProcess
        let errorFile: String
        private var pending: [String] = []

        init(_ process: ChildProcess, errorFile: String) {
            self.process = process
            self.errorFile = errorFile
        }

        deinit { process.stop() }

        /// The SUBACK's return codes ("Subscribed (mid: 1): 1, 128"); nil if none came (refused,
        /// dropped, or nothing within 20 s).
        func granted() -> [Int]? {
            guard let line = waitFor({ $0.hasPrefix("Subscribed (mid: ") }),
                  let colon = line.range(of: "): ") else { return nil }
            return line[colon.upperBound...].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }

        /// The next `count` messages as `<retain> <topic> <payload>`; fewer if it ends or stays
        /// quiet for 20 s.
        func messages(_ count: Int) -> [String] {
            var received: [String] = []
            while received.count < count {
                if !pending.isEmpty { received.append(pending.removeFirst()); continue }
                guard let line = waitFor({ $0.hasPrefix("msg ") }) else { break }
                received.append(String(line.dropFirst(4)))
            }
            return received
        }

        /// The next message's `<retain> <topic> <payload>`.
        func next() -> String? { messages(1).first }

        /// The first line that satisfies `match` (`msg` lines before it are kept for `messages`).
        private func waitFor(_ match: (String) -> Bool) -> String? {
            let deadline = ContinuousClock.now + .seconds(20)
            while true {
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero, let line = process.readLine(timeout: remaining) else { return nil }
                if match(line) { return line }
                if line.hasPrefix("msg ") { pending.append(String(line.dropFirst(4))) }
            }
        }

        /// Stops it; what it wrote on stderr.
        func stop() -> String {
            process.stop()
            return (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
        }
    }
}

enum IoTCoreGatewayError: Error {
    case notListening(String)
}
