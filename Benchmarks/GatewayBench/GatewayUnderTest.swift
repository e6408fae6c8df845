import BenchSupport
import Foundation
import Glibc
import TestSupport

/// One Modbus TCP device of a generated config: its own bus (connection) to a simulator port.
struct BenchDevice {
    let id: String
    let port: UInt16
    let unit: UInt8
}

/// A `modbridge run` process on a generated config in a folder of its own: one TCP bus per device,
/// the embedded broker on a free port. Its CPU time, threads and memory are read from /proc.
final class GatewayUnderTest {
    let process: ChildProcess
    let brokerPort: UInt16
    /// The HTTP listener serving /metrics and /healthz, if asked for.
    let metricsPort: UInt16?
    let logPath: String

    init(modbridge: String, folder: String, profileJSON: String, devices: [BenchDevice], metrics: Bool = false) throws {
        try FileManager.default.createDirectory(atPath: folder + "/profiles", withIntermediateDirectories: true)
        try profileJSON.write(toFile: folder + "/profiles/\(BenchProfile.model).json", atomically: true, encoding: .utf8)
        brokerPort = freePort()
        metricsPort = metrics ? freePort() : nil
        let httpListener = metricsPort.map { #", { "host": "127.0.0.1", "port": \#($0), "protocol": "http", "serve": ["metrics"] }"# } ?? ""
        let buses = devices.map { #"{ "id": "bus-\#($0.id)", "type": "tcp", "host": "127.0.0.1", "port": \#($0.port), "responseTimeout": "1s" }"# }
        let entries = devices.map { #"{ "id": "\#($0.id)", "bus": "bus-\#($0.id)", "unit": \#($0.unit), "profile": "\#(BenchProfile.model)" }"# }
        let config = """
        { "broker": { "mode": "embedded", "listeners": [{ "host": "127.0.0.1", "port": \(brokerPort), "anonymousAs": "bench" }\(httpListener)] },
          "profiles": ["profiles"],
          "buses": [\(buses.joined(separator: ",\n  "))],
          "registries": [{ "id": "bench", "devices": [\(entries.joined(separator: ",\n  "))] }] }
        """
        try config.write(toFile: folder + "/modbridge.json", atomically: true, encoding: .utf8)
        logPath = folder + "/modbridge.log"
        process = try ChildProcess(modbridge, ["run", "--config", folder + "/modbridge.json"], standardErrorFile: logPath)
        for _ in 0..<1000 {
            if acceptsConnections(port: brokerPort) { return }
            guard process.isRunning else { break }
            usleep(10_000)
        }
        let log = self.log
        process.stop()
        throw BenchError("modbridge run did not start listening on \(brokerPort)", log: log)
    }

    /// What the gateway has logged so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// User plus system CPU time so far, in seconds.
    func cpuSeconds() -> Double {
        let fields = statFields()
        // utime and stime are fields 14 and 15 of /proc/PID/stat; counting from the state (field 3).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Threads of the process now.
    func threads() -> Int {
        let fields = statFields()
        return fields.count > 17 ? Int(fields[17]) ?? 0 : 0
    }

    /// VmRSS and VmHWM (the peak) in KiB.
    func memory() -> (resident: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// Log lines at level warning or error so far.
    func problems() -> [String] {
        log.split(separator: "\n").filter { $0.hasPrefix("level=warning") || $0.hasPrefix("level=error") }.map(String.init)
    }

    /// SIGTERM (then SIGKILL after 5 s); true if it exited by itself with status 0.
    func stop() -> Bool {
        let status = process.stop()
        return ChildProcess.exitCode(status) == 0
    }

    private func statFields() -> [Substring] {
        let stat = (try? String(contentsOfFile: "/proc/\(process.pid)/stat", encoding: .utf8)) ?? ""
        // The command name (field 2) is in parentheses and may hold spaces: fields start after it.
        guard let close = stat.lastIndex(of: ")") else { return [] }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}

/// Why a benchmark run could not finish.
struct BenchError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }

    /// With the last lines of the gateway's log.
    init(_ message: String, log: String) {
        description = message + "\nlast log lines:\n" + log.split(separator: "\n").suffix(20).joined(separator: "\n")
    }
}
