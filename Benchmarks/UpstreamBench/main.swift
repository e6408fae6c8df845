// `make bench-upstream`: modbridge's store-and-forward drain against a Mosquitto bridge draining
// the same backlog into the same upstream Mosquitto (same run, alternating), the live message's
// wait behind a full backlog, and `modbridge run` in mode upstream with 100 per-device
// connections. Prints the figures and writes them into BENCHMARKS.md.
//
//   modbridge-upstream-bench [--modbridge PATH] [--messages N] [--runs N] [--devices N]
//                            [--steady-devices N] [--buses N] [--interval D] [--seconds S]
//                            [--only drain|steady] [--write FILE]
import BenchSupport
import Foundation
import TestSupport

struct Options {
    var modbridge = ".build/release/modbridge"
    var messages = 100_000
    var runs = 3
    /// Devices the drain's messages come from (topics plant/dev-N/events), one connection.
    var devices = 10
    var steadyDevices = 100
    var buses = 10
    var interval = "200ms"
    var seconds = 20.0
    var only: String?
    var markdown: String?

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--modbridge": modbridge = iterator.next() ?? ""
            case "--messages": messages = min(999_999, max(1, Int(iterator.next() ?? "") ?? messages))
            case "--runs": runs = max(1, Int(iterator.next() ?? "") ?? runs)
            case "--devices": devices = max(1, Int(iterator.next() ?? "") ?? devices)
            case "--steady-devices": steadyDevices = max(1, Int(iterator.next() ?? "") ?? steadyDevices)
            case "--buses": buses = max(1, Int(iterator.next() ?? "") ?? buses)
            case "--interval": interval = iterator.next() ?? interval
            case "--seconds": seconds = max(1, Double(iterator.next() ?? "") ?? seconds)
            case "--only": only = iterator.next()
            case "--write": markdown = iterator.next()
            case "-h", "--help":
                say("usage: modbridge-upstream-bench [--modbridge PATH] [--messages N] [--runs N] [--devices N] [--steady-devices N] [--buses N] [--interval D] [--seconds S] [--only drain|steady] [--write FILE]")
                exit(0)
            default: benchFailure("unknown argument \(argument)")
            }
        }
        if let only, !["drain", "steady"].contains(only) { benchFailure("--only takes drain or steady") }
        if only != nil && markdown != nil { benchFailure("--only runs a part of the bench; it does not go with --write") }
        if !modbridge.hasPrefix("/") { modbridge = FileManager.default.currentDirectoryPath + "/" + modbridge }
        guard access(modbridge, X_OK) == 0 else { benchFailure("no modbridge binary at \(modbridge) (build it, or pass --modbridge PATH)") }
        guard access(mosquittoExecutable, X_OK) == 0 || mosquittoExecutable == "mosquitto" else { benchFailure("mosquitto not found (make setup-system installs it)") }
    }

    func runs(_ part: String) -> Bool { only == nil || only == part }
}

/// The upstream broker U of the drain rows: the same options for both peers.
let upstreamLines = ["persistence false",
                     // The subscriber must get every message: no bound it could reach.
                     "max_queued_messages 1000000",
                     "set_tcp_nodelay true"]

enum Peer: String {
    case modbridge, bridge
}

/// Prints a progress line at once, also through a pipe.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// (max − min) / median, in percent.
func spread(_ values: [Double]) -> String {
    let middle = median(values)
    guard middle > 0, let low = values.min(), let high = values.max() else { return "—" }
    return formatted((high - low) / middle * 100, decimals: 0) + " %"
}

func runBench(_ options: Options) async throws {
    let folder = TemporaryFolder()
    Interruption.shared.created(folder: folder.path)
    let started = ContinuousClock.now
    let subscriberLogin = (user: "consumer", password: "consumer-" + UUID().uuidString.prefix(8))
    let modbridgeLogin = (user: "modbridge", password: "modbridge-" + UUID().uuidString.prefix(8))
    let bridgePassword = "bridge-" + UUID().uuidString.prefix(8)

    var drains: [Peer: [DrainFigures]] = [.modbridge: [], .bridge: []]
    if options.runs("drain") {
        say("drain of \(options.messages) messages (\(options.devices) devices, QoS 1) into an upstream Mosquitto, \(options.runs) runs each, alternating")
        for run in 0..<options.runs {
            let order: [Peer] = run % 2 == 0 ? [.modbridge, .bridge] : [.bridge, .modbridge]
            for peer in order {
                let runFolder = folder.path + "/drain-\(run)-\(peer.rawValue)"
                try FileManager.default.createDirectory(atPath: runFolder, withIntermediateDirectories: true)
                var logins = [subscriberLogin.user: subscriberLogin.password]
                if peer == .modbridge { logins[modbridgeLogin.user] = modbridgeLogin.password }
                let upstream = try MosquittoPeer(name: "upstream", folder: runFolder, port: freePort(), lines: upstreamLines, passwords: logins)
                defer { upstream.stop() }
                let figures: DrainFigures
                switch peer {
                case .modbridge:
                    figures = try await measureOutboxDrain(folder: runFolder, upstream: upstream, login: (modbridgeLogin.user, modbridgeLogin.password),
                                                           subscriberLogin: (subscriberLogin.user, subscriberLogin.password),
                                                           messages: options.messages, devices: options.devices)
                case .bridge:
                    figures = try measureBridgeDrain(folder: runFolder, upstream: upstream, bridgePassword: bridgePassword,
                                                     subscriberLogin: (subscriberLogin.user, subscriberLogin.password),
                                                     messages: options.messages, devices: options.devices)
                }
                upstream.stop()
                try? FileManager.default.removeItem(atPath: runFolder)
                guard figures.distinct == options.messages else {
                    throw BenchError("\(peer.rawValue): \(figures.distinct) of \(options.messages) messages arrived")
                }
                drains[peer, default: []].append(figures)
                var line = "  run \(run + 1) \(peer.rawValue): \(formatted(figures.seconds, decimals: 3)) s first→last, "
                    + "\(formatted(figures.rate, decimals: 0)) msg/s, \(figures.distinct) distinct, \(figures.received) received"
                if let live = figures.liveMilliseconds { line += ", live after \(formatted(live, decimals: 1)) ms (\(figures.backlogBeforeLive) backlog messages before it)" }
                if let total = figures.connackToLastSeconds { line += ", CONNACK→last \(formatted(total, decimals: 3)) s" }
                line += ", CPU during the drain: U \(formatted(figures.upstreamCPUPercent, decimals: 0)) %, \(peer == .modbridge ? "mqtt-upstream thread" : "L") \(formatted(figures.peerCPUPercent, decimals: 0)) %, \(formatted(figures.segmentsPerMessage, decimals: 2)) TCP segments/message"
                line += ", backlog made in \(formatted(figures.fillSeconds, decimals: 2)) s"
                if !figures.notes.isEmpty { line += "; " + figures.notes.joined(separator: "; ") }
                say(line)
            }
        }
    }

    var steady: SteadyFigures?
    if options.runs("steady") {
        say("\nmodbridge run, mode upstream, per-device: \(options.steadyDevices) devices on \(options.buses) simulator buses, every \(options.interval), \(formatted(options.seconds, decimals: 0)) s measured")
        let figures = try measureSteadyState(modbridge: options.modbridge, folder: folder.path + "/steady", devices: options.steadyDevices,
                                             buses: options.buses, interval: options.interval, window: options.seconds)
        say("  \(formatted(figures.messagesPerSecond, decimals: 0)) msg/s at the subscriber, gateway CPU \(formatted(figures.cpuPercent)) % of one core, "
              + "RSS \(formatted(Double(figures.residentKiB) / 1024)) MiB (peak \(formatted(Double(figures.peakKiB) / 1024))), \(figures.threads) threads, "
              + "Mosquitto CPU \(formatted(figures.upstreamCPUPercent)) %, $SYS clients connected \(figures.connectedClients), "
              + "\(figures.problems.count) warnings/errors, stopped cleanly: \(figures.stoppedCleanly)")
        for problem in figures.problems.prefix(5) { say("    \(problem)") }
        guard figures.upstreamConnectedLogs == options.steadyDevices, figures.connectedClients == options.steadyDevices + 1 else {
            throw BenchError("steady state: \(figures.upstreamConnectedLogs) links logged upstream_connected, Mosquitto counts \(figures.connectedClients) clients (expected \(options.steadyDevices) + the subscriber)")
        }
        steady = figures
    }
    let total = formatted(seconds(started.duration(to: .now)), decimals: 0)
    say("\n(\(total) s)")
    if let path = options.markdown {
        try writeSection("upstream-bench", body: report(options, drains: drains, steady: steady, total: total), to: path)
        say("wrote \(path)")
    }
}

Interruption.shared.install()
do {
    try await runBench(Options(Array(CommandLine.arguments.dropFirst())))
} catch {
    benchFailure("\(error)")
}
