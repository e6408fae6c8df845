import Foundation
import Glibc
import TestSupport

/// A Mosquitto the bench starts on 127.0.0.1: its configuration and log in the run's folder,
/// stopped (SIGTERM, then SIGKILL) by `stop()`, by deinit, or by an interruption.
final class MosquittoPeer {
    let name: String
    let port: UInt16
    let configurationPath: String
    let logPath: String
    let passwordPath: String
    private var process: ChildProcess?

    /// Writes `name`.conf in `folder`: `lines` after a listener on `port`, with the log in a file
    /// beside it. With `passwords`, `allow_anonymous false` and a password file holding them.
    init(name: String, folder: String, port: UInt16, lines: [String], passwords: [String: String]? = nil) throws {
        self.name = name
        self.port = port
        configurationPath = folder + "/\(name).conf"
        logPath = folder + "/\(name).log"
        passwordPath = folder + "/\(name).passwords"
        var configuration = ["per_listener_settings false", "listener \(port) 127.0.0.1"]
        if let passwords {
            try "".write(toFile: passwordPath, atomically: true, encoding: .utf8)
            for (user, password) in passwords.sorted(by: { $0.key < $1.key }) { try setPassword(password, for: user) }
            configuration += ["allow_anonymous false", "password_file \(passwordPath)"]
        } else {
            configuration.append("allow_anonymous true")
        }
        configuration += lines
        configuration += ["log_dest file \(logPath)", "log_timestamp_format %H:%M:%S"]
        // Started as root, Mosquitto 2 would drop to the `mosquitto` user, who cannot write the log here.
        if geteuid() == 0 { configuration.append("user root") }
        try (configuration.joined(separator: "\n") + "\n").write(toFile: configurationPath, atomically: true, encoding: .utf8)
    }

    deinit { stop() }

    var pid: pid_t? { process?.pid }

    /// Starts it; returns once the listener accepts connections (at most 10 s).
    func start() throws {
        guard process == nil else { return }
        let started = try ChildProcess(mosquittoExecutable, ["-c", configurationPath], standardErrorFile: logPath + ".stderr")
        process = started
        Interruption.shared.started(started.pid)
        for _ in 0..<1000 {
            if acceptsConnections(port: port) { return }
            guard started.isRunning else { break }
            usleep(10_000)
        }
        let log = self.log
        stop()
        throw BenchError("\(name): mosquitto never accepted on port \(port); its log:\n\(log)")
    }

    func stop() {
        guard let process else { return }
        process.stop()
        Interruption.shared.stopped(process.pid)
        self.process = nil
    }

    /// Adds or replaces a password login (mosquitto_passwd -b); a running Mosquitto sees it after `reload()`.
    func setPassword(_ password: String, for user: String) throws {
        let status = try ChildProcess("mosquitto_passwd", ["-b", passwordPath, user, password]).waitForExit(timeout: .seconds(30))
        guard ChildProcess.exitCode(status) == 0 else { throw BenchError("mosquitto_passwd for \(user) failed (status \(status))") }
    }

    /// SIGHUP: Mosquitto reads its password file again; returns once its log says so (at most 10 s).
    func reload() throws {
        guard let pid else { return }
        let marker = "Reloading config."
        let before = log.components(separatedBy: marker).count
        kill(pid, SIGHUP)
        for _ in 0..<1000 {
            if log.components(separatedBy: marker).count > before { return }
            usleep(10_000)
        }
        throw BenchError("\(name): no reload within 10 s of SIGHUP; its log:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// Why a benchmark run could not finish.
struct BenchError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
