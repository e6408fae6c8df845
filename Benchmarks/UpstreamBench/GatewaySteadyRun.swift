import Foundation
import Glibc
import MQTT
import TestSupport

/// What the steady-state row measured.
struct SteadyFigures {
    var seconds: Double
    var messagesPerSecond: Double
    var cpuPercent: Double
    var upstreamCPUPercent: Double
    var residentKiB: Int
    var peakKiB: Int
    var threads: Int
    /// `$SYS/broker/clients/connected` on the upstream broker (the subscriber included).
    var connectedClients: Int
    var upstreamConnectedLogs: Int
    var problems: [String]
    var stoppedCleanly: Bool
}

/// The profile of the steady-state row: the simulated controller's points (3 tables, 3 requests
/// a cycle), every point published at every read, one events document per device and cycle.
func steadyProfile(interval: String) -> String {
    """
    { "model": "upstream-bench", "vendor": "modbridge", "description": "The simulator's points, all published at every read.",
      "defaults": { "interval": "\(interval)", "report": { "onChange": false } },
      "points": [
        { "name": "set_point", "table": "holding", "address": 0, "type": "int16", "scale": 0.1, "access": "readwrite", "min": 0, "max": 170 },
        { "name": "running", "table": "holding", "address": 1, "type": "enum", "access": "readwrite", "labels": { "0": "stopped", "1": "running" } },
        { "name": "high_alarm_limit", "table": "holding", "address": 2, "type": "int16", "scale": 0.1, "access": "readwrite", "min": 0, "max": 170 },
        { "name": "temperature", "table": "input", "address": 0, "type": "int16", "scale": 0.1 },
        { "name": "heater_output", "table": "input", "address": 1, "type": "uint16", "scale": 0.1 },
        { "name": "status", "table": "input", "address": 2, "type": "flags", "flags": { "0": "running", "1": "heating", "2": "high_alarm" } },
        { "name": "temperature_float", "table": "input", "address": 3, "type": "float32", "order": "abcd" },
        { "name": "heating", "table": "discrete", "address": 0, "type": "bool" },
        { "name": "high_alarm", "table": "discrete", "address": 1, "type": "bool" }
      ] }
    """
}

/// `modbridge run` in mode `upstream`, one connection per device, `devices` simulated controllers
/// on `buses` simulator buses (115200 baud), polled every `interval`, against a plain Mosquitto
/// (anonymous logins, `$SYS` every second). Messages/s at a subscriber on `plant/#` and the
/// gateway's CPU over `window` seconds, once every device's connection is up and 2 s more.
func measureSteadyState(modbridge: String, folder: String, devices: Int, buses: Int, interval: String,
                        window: Double) throws -> SteadyFigures {
    try FileManager.default.createDirectory(atPath: folder + "/profiles", withIntermediateDirectories: true)
    try steadyProfile(interval: interval).write(toFile: folder + "/profiles/upstream-bench.json", atomically: true, encoding: .utf8)
    let upstream = try MosquittoPeer(name: "upstream-steady", folder: folder, port: freePort(),
                                     lines: ["persistence false", "max_queued_messages 1000000", "set_tcp_nodelay true", "sys_interval 1"])
    try upstream.start()
    defer { upstream.stop() }
    let subscriber = try BenchSubscriber(port: upstream.port, clientID: "bench-subscriber", username: nil, password: nil,
                                         filters: [Subscription(filter: "plant/#", qos: .atMostOnce),
                                                   Subscription(filter: "$SYS/broker/clients/connected", qos: .atMostOnce)],
                                         expectedBacklog: 1)
    defer { subscriber.stop() }

    let perBus = (devices + buses - 1) / buses
    var busEntries: [String] = []
    var deviceEntries: [String] = []
    for bus in 0..<buses {
        let units = (1...perBus).filter { bus * perBus + $0 <= devices }
        guard !units.isEmpty else { continue }
        busEntries.append(#"{ "id": "sim-\#(bus + 1)", "type": "simulator", "units": [\#(units.map(String.init).joined(separator: ", "))], "baud": 115200, "characterTimes": false }"#)
        for unit in units {
            deviceEntries.append(#"{ "id": "dev-\#(bus * perBus + unit)", "bus": "sim-\#(bus + 1)", "unit": \#(unit), "profile": "upstream-bench" }"#)
        }
    }
    let config = """
    { "broker": { "mode": "upstream",
                  "upstream": { "url": "mqtt://127.0.0.1:\(upstream.port)", "connection": "per-device",
                                "topics": { "device": "plant/{id}", "registry": "plant/registries/{id}" } } },
      "storage": "storage",
      "profiles": ["profiles"],
      "buses": [\(busEntries.joined(separator: ",\n    "))],
      "registries": [{ "id": "bench", "devices": [\(deviceEntries.joined(separator: ",\n    "))] }] }
    """
    try config.write(toFile: folder + "/modbridge.json", atomically: true, encoding: .utf8)
    let logPath = folder + "/modbridge.log"
    let gateway = try ChildProcess(modbridge, ["run", "--config", folder + "/modbridge.json"], standardErrorFile: logPath)
    Interruption.shared.started(gateway.pid)
    defer {
        gateway.stop()
        Interruption.shared.stopped(gateway.pid)
    }
    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    // Every device's connection up: its first events reached the subscriber.
    var online: Set<String> = []
    let deadline = ContinuousClock.now.advanced(by: .seconds(60))
    while online.count < devices {
        guard ContinuousClock.now < deadline, gateway.isRunning else {
            throw BenchError("steady state: \(online.count) of \(devices) devices online after 60 s; last log lines:\n"
                             + log().split(separator: "\n").suffix(20).joined(separator: "\n"))
        }
        usleep(100_000)
        online = Set(log().split(separator: "\n").filter { $0.contains("upstream_connected") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("link=") }.map { String($0.dropFirst(5)) }
        })
    }
    usleep(2_000_000)
    let before = (reception: subscriber.reception, cpu: cpuSeconds(gateway.pid), upstreamCPU: cpuSeconds(upstream.pid ?? 0),
                  at: ContinuousClock.now)
    usleep(UInt32(window * 1_000_000))
    let after = (reception: subscriber.reception, cpu: cpuSeconds(gateway.pid), upstreamCPU: cpuSeconds(upstream.pid ?? 0),
                 at: ContinuousClock.now)
    let elapsed = seconds(before.at.duration(to: after.at))
    let memory = processMemory(gateway.pid)
    let threads = processThreads(gateway.pid)
    let connected = Int(after.reception.systemValues["$SYS/broker/clients/connected"] ?? "") ?? 0
    let text = log()
    let problems = text.split(separator: "\n").filter { $0.hasPrefix("level=warning") || $0.hasPrefix("level=error") }.map(String.init)
    let status = gateway.stop()
    Interruption.shared.stopped(gateway.pid)
    return SteadyFigures(seconds: elapsed,
                         messagesPerSecond: Double(after.reception.total - before.reception.total) / elapsed,
                         cpuPercent: (after.cpu - before.cpu) / elapsed * 100,
                         upstreamCPUPercent: (after.upstreamCPU - before.upstreamCPU) / elapsed * 100,
                         residentKiB: memory.resident, peakKiB: memory.peak, threads: threads, connectedClients: connected,
                         upstreamConnectedLogs: online.count, problems: problems,
                         stoppedCleanly: ChildProcess.exitCode(status) == 0)
}

/// Fields after the command name of /proc/PID/stat (the first is the state, field 3).
private func statFields(_ pid: pid_t) -> [Substring] {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = stat.lastIndex(of: ")") else { return [] }
    return stat[stat.index(after: close)...].split(separator: " ")
}

/// User plus system CPU time of `pid` so far, in seconds.
func cpuSeconds(_ pid: pid_t) -> Double {
    let fields = statFields(pid)
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU seconds of this process's threads called `name`.
func threadCPUSeconds(named name: String) -> Double {
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return 0 }
    var total = 0.0
    for task in tasks {
        let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
        guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == name else { continue }
        let stat = (try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
        total += (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
    return total
}

func processThreads(_ pid: pid_t) -> Int {
    let fields = statFields(pid)
    return fields.count > 17 ? Int(fields[17]) ?? 0 : 0
}

/// VmRSS and VmHWM in KiB.
func processMemory(_ pid: pid_t) -> (resident: Int, peak: Int) {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
    return (field("VmRSS"), field("VmHWM"))
}
