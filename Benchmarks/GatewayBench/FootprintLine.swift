import BenchSupport
import Foundation
import POSIX
import TestSupport

/// Where a process's resident memory sits, from /proc/PID/smaps and smaps_rollup, in KiB: the
/// executable's own file pages, the shared libraries' file pages, and anonymous pages (heap,
/// stacks, and the copy-on-write pages of file mappings: written .data, relocated tables).
struct MemorySplit {
    var proportional = 0
    var executable = 0
    var libraries = 0
    var anonymous = 0

    init(pid: Int32, executable path: String) {
        // Read to the end through POSIX: procfs files report size 0, and smaps runs to ~100 KB.
        let smaps = String(decoding: (try? readWholeFile("/proc/\(pid)/smaps")) ?? [], as: UTF8.self)
        var name = "", resident = 0
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if !first.hasSuffix(":") {
                name = fields.count > 5 ? fields[5...].joined(separator: " ") : ""
            } else if first == "Rss:", fields.count > 1 {
                resident = Int(fields[1]) ?? 0
            } else if first == "Anonymous:", fields.count > 1 {
                let anonymous = Int(fields[1]) ?? 0
                self.anonymous += anonymous
                let file = resident - anonymous
                if name == path { executable += file } else if name.contains(".so") { libraries += file } else { self.anonymous += file }
            }
        }
        let rollup = String(decoding: (try? readWholeFile("/proc/\(pid)/smaps_rollup")) ?? [], as: UTF8.self)
        if let line = rollup.split(separator: "\n").first(where: { $0.hasPrefix("Pss:") }) {
            proportional = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
    }
}

/// One load run at 30,000 points/s (the devices × 30 points every 100 ms, every point published),
/// printed as one `footprint key=value ...` line for scripts/footprint-bench.sh's "RSS at 30,000
/// points/s" row.
func printFootprintLine(_ options: Options) async throws {
    let folder = TemporaryFolder()
    let interval = "100ms"
    let load = try await measureLoad(modbridge: options.modbridge, folder: folder.path + "/footprint", devices: options.devices,
                                     interval: interval, onChange: false, seconds: options.seconds)
    let fields: [(String, String)] = [
        ("devices", "\(load.devices)"), ("points", "\(BenchProfile.pointCount)"), ("interval", interval),
        ("seconds", formatted(load.seconds, decimals: 0)), ("points_per_s", formatted(load.pointsPerSecond, decimals: 0)),
        ("requests_per_s", formatted(load.requestsPerSecond, decimals: 0)), ("cpu_percent", formatted(load.cpuPercent)),
        ("threads", "\(load.threads)"), ("rss_kib", "\(load.residentKiB)"), ("peak_kib", "\(load.peakKiB)"),
        ("pss_kib", "\(load.split.proportional)"), ("own_kib", "\(load.split.executable)"),
        ("libraries_kib", "\(load.split.libraries)"), ("anonymous_kib", "\(load.split.anonymous)"),
        ("log_problems", "\(load.problems.count)"),
    ]
    print("footprint " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
}
