import BenchSupport
import Foundation
import TestSupport

/// Requests per poll cycle of one shipped profile: the planner's against one request per point.
struct PlannerRow {
    let model: String
    let polledPoints: Int
    let plannedRequests: Int
}

/// Asks `modbridge check` for the plan of every profile in `mappings`: a config with one device
/// per profile on a TCP bus (check opens nothing), and the summary line of each device read back.
func plannerRows(modbridge: String, mappings: String, folder: String) throws -> [PlannerRow] {
    let files = try FileManager.default.contentsOfDirectory(atPath: mappings).filter { $0.hasSuffix(".json") }.sorted()
    var models: [String] = []
    for file in files {
        let data = try Data(contentsOf: URL(fileURLWithPath: mappings + "/" + file))
        guard let model = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["model"] as? String else {
            throw BenchError("\(mappings)/\(file) has no model")
        }
        models.append(model)
    }
    let devices = models.enumerated().map { index, model in
        #"{ "id": "dev-\#(index + 1)", "bus": "line", "unit": \#(index + 1), "profile": "\#(model)" }"#
    }
    let config = """
    { "profiles": ["\(mappings)"],
      "buses": [{ "id": "line", "type": "tcp", "host": "127.0.0.1", "port": 502 }],
      "registries": [{ "id": "plan", "devices": [\(devices.joined(separator: ", "))] }] }
    """
    try config.write(toFile: folder + "/plan.json", atomically: true, encoding: .utf8)
    let check = try ChildProcess(modbridge, ["check", folder + "/plan.json"], standardErrorFile: folder + "/check.log")
    var lines: [String] = []
    while let line = check.readLine() { lines.append(line) }
    guard ChildProcess.exitCode(check.waitForExit()) == 0 else { throw BenchError("modbridge check failed:\n" + lines.joined(separator: "\n")
        + ((try? String(contentsOfFile: folder + "/check.log", encoding: .utf8)) ?? "")) }

    // "  plan/d1: bus line unit 1, profile delta-dtb, 30 polled points in 13 read requests per cycle, …"
    return try models.enumerated().map { index, model in
        guard let line = lines.first(where: { $0.hasPrefix("  plan/dev-\(index + 1): ") }),
              let counts = line.split(separator: ", ").first(where: { $0.contains(" polled point") && $0.contains(" per cycle") }) else {
            throw BenchError("no plan for \(model) in the output of modbridge check:\n" + lines.joined(separator: "\n"))
        }
        let words = counts.split(separator: " ")
        guard words.count > 4, let points = Int(words[0]), let requests = Int(words[4]) else {
            throw BenchError("cannot read '\(counts)' in the output of modbridge check")
        }
        return PlannerRow(model: model, polledPoints: points, plannedRequests: requests)
    }
}
