import BenchSupport
import Foundation
import TestSupport

/// `/metrics` under load: wrk (Debian's) with one thread and 4 kept-alive connections requests
/// the page for the measured window, while the gateway polls; its figures as wrk prints them.
struct MetricsLoad {
    let requestsPerSecond: Double
    let p50: Double
    let p99: Double
    let bytesPerRequest: Double
    let errors: String?

    static let connections = 4

    static func run(url: String, seconds: Double) async throws -> MetricsLoad {
        let wrk = try ChildProcess("wrk", ["-t1", "-c\(connections)", "-d\(Int(seconds))s", "--latency", url])
        var lines: [String] = []
        while let line = wrk.readLine(timeout: .seconds(Int64(seconds) + 30)) { lines.append(line) }
        _ = wrk.waitForExit()
        func value(after label: String) -> String? {
            lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }?
                .trimmingCharacters(in: .whitespaces).dropFirst(label.count).trimmingCharacters(in: .whitespaces)
                .split(separator: " ").first.map(String.init)
        }
        guard let rate = value(after: "Requests/sec:").flatMap(Double.init) else {
            throw BenchError("wrk printed no rate:\n" + lines.joined(separator: "\n"))
        }
        let requests = lines.first { $0.contains("requests in") }?.trimmingCharacters(in: .whitespaces).split(separator: " ")
        let total = requests.flatMap { Double($0[0]) } ?? 0
        let transferred = requests.flatMap { $0.count > 4 ? bytes(String($0[4]).trimmingCharacters(in: CharacterSet(charactersIn: ","))) : nil } ?? 0
        let errors = lines.first { $0.contains("Non-2xx") || $0.contains("Socket errors") }
        return MetricsLoad(requestsPerSecond: rate, p50: value(after: "50%").flatMap(milliseconds) ?? .nan,
                           p99: value(after: "99%").flatMap(milliseconds) ?? .nan,
                           bytesPerRequest: total > 0 ? transferred / total : .nan, errors: errors)
    }

    /// wrk's durations ("812.00us", "1.23ms", "1.01s") in ms.
    static func milliseconds(_ text: String) -> Double? {
        for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return nil
    }

    /// wrk's sizes ("12.34MB", "980.00KB", "512B") in bytes.
    static func bytes(_ text: String) -> Double? {
        for (suffix, factor) in [("GB", 1_073_741_824.0), ("MB", 1_048_576.0), ("KB", 1024.0), ("B", 1.0)] where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return nil
    }
}
