// What every `make bench` program shares: the machine line, the day, percentiles, number
// formatting, and writing its section into BENCHMARKS.md between its own markers.
import Foundation  // benchmarks are not shipped: Foundation's conveniences are fine here

/// The CPU model, core count, kernel and architecture, for the "Measured on" line.
package func machineDescription() -> String {
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let architecture = withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
        .flatMap { $0.split(separator: ":", maxSplits: 1).last }
        .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    return "\(model), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, Linux \(release) \(architecture)"
}

/// Today in UTC, as 2026-11-21.
package func utcDay() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    return String(format: "%04d-%02d-%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday)
}

/// The nearest-rank percentile `p` (0...100) of `samples`; 0 for none.
package func percentile<Value: Comparable & AdditiveArithmetic>(_ p: Double, of samples: [Value]) -> Value {
    guard !samples.isEmpty else { return .zero }
    let sorted = samples.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(sorted.count - 1, max(0, rank - 1))]
}

/// `value` with `decimals` digits after the point.
package func formatted(_ value: Double, decimals: Int = 1) -> String {
    String(format: "%.\(decimals)f", value)
}

/// Prints `message` to stderr prefixed with the program's name, and exits with status 1.
package func benchFailure(_ message: String) -> Never {
    let program = (CommandLine.arguments.first ?? "bench").split(separator: "/").last.map(String.init) ?? "bench"
    FileHandle.standardError.write(Data("\(program): \(message)\n".utf8))
    exit(1)
}

/// Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in the markdown file
/// at `path` with `body` (markers kept), or appends a marked section if there is none yet.
package func writeSection(_ name: String, body: String, to path: String) throws {
    let start = "<!-- \(name):start -->", end = "<!-- \(name):end -->"
    let section = start + "\n" + body + (body.hasSuffix("\n") ? "" : "\n") + end
    let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    let updated: String
    if let from = existing.range(of: start), let to = existing.range(of: end), from.upperBound <= to.lowerBound {
        updated = String(existing[..<from.lowerBound]) + section + String(existing[to.upperBound...])
    } else if existing.isEmpty {
        updated = "# Benchmarks\n\nFigures written by `make bench`; each section names its command and machine.\n\n" + section + "\n"
    } else {
        updated = existing + (existing.hasSuffix("\n") ? "\n" : "\n\n") + section + "\n"
    }
    try updated.write(toFile: path, atomically: true, encoding: .utf8)
}
