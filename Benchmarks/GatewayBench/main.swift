// `make bench`, the gateway part: requests per cycle of each shipped profile (planner vs one
// request per point), register change → subscriber latency, and the CPU and memory of
// `modbridge run` polling 100 simulated Modbus TCP devices × 30 points. Prints the tables and
// writes them into BENCHMARKS.md.
//
//   modbridge-gateway-bench [--modbridge PATH] [--mappings DIR] [--devices N] [--seconds N] [--repeat N]
//                           [--samples N] [--only planner|latency|load|metrics] [--write FILE] [--footprint-line]
import BenchSupport
import Foundation
import TestSupport

struct Options {
    /// The binary under test; by default the one built beside this benchmark.
    var modbridge = modbridgeExecutable
    var mappings = "mappings"
    /// Length of each load run's measured window.
    var seconds = 10.0
    /// Separate runs of each load row (rounds of every row in turn); the median run is reported.
    var repeats = 3
    var latencySamples = 200
    var devices = 100
    var markdown: String?
    /// Runs only this part (planner, latency, load or metrics); nothing is written then.
    var only: String?
    /// Runs one 100 ms every-point load run and prints it as a `footprint key=value ...` line
    /// (scripts/footprint-bench.sh); nothing is written then.
    var footprintLine = false

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--modbridge": modbridge = iterator.next() ?? ""
            case "--mappings": mappings = iterator.next() ?? ""
            case "--seconds": seconds = Double(iterator.next() ?? "") ?? seconds
            case "--repeat": repeats = max(1, Int(iterator.next() ?? "") ?? repeats)
            case "--samples": latencySamples = Int(iterator.next() ?? "") ?? latencySamples
            case "--devices": devices = Int(iterator.next() ?? "") ?? devices
            case "--write": markdown = iterator.next()
            case "--only": only = iterator.next()
            case "--footprint-line": footprintLine = true
            default: benchFailure("unknown argument \(argument)")
            }
        }
        if let only, !["planner", "latency", "load", "metrics"].contains(only) { benchFailure("--only takes planner, latency, load or metrics") }
        if footprintLine && (only != nil || markdown != nil) { benchFailure("--footprint-line goes with neither --only nor --write") }
        if only != nil && markdown != nil { benchFailure("--only runs a part of the bench; it does not go with --write") }
        // The generated configs live in a temporary folder: their paths must not be relative.
        if !mappings.hasPrefix("/") { mappings = FileManager.default.currentDirectoryPath + "/" + mappings }
        guard access(modbridge, X_OK) == 0 else { benchFailure("no modbridge binary at \(modbridge) (build it, or pass --modbridge PATH)") }
    }
}

extension Options {
    func runs(_ part: String) -> Bool { only == nil || only == part }
}

/// `text` padded with spaces to `width` (at least one space after it).
func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// Every part of the bench, in a temporary folder removed at the end (also when a part fails).
func runBench(_ options: Options) async throws {
    let folder = TemporaryFolder()
    let started = ContinuousClock.now

    // Planner.
    var plannerTable: [String] = []
    if options.runs("planner") {
        print("requests per poll cycle (every point's group due at once)")
        print(column("profile", 24) + column("points", 8) + column("one per point", 15) + column("planner", 9) + "ratio")
        for row in try plannerRows(modbridge: options.modbridge, mappings: options.mappings, folder: folder.path) {
            let ratio = formatted(Double(row.plannedRequests) / Double(row.polledPoints), decimals: 2)
            print(column(row.model, 24) + column("\(row.polledPoints)", 8) + column("\(row.polledPoints)", 15) + column("\(row.plannedRequests)", 9) + ratio)
            plannerTable.append("| \(row.model) | \(row.polledPoints) | \(row.polledPoints) | \(row.plannedRequests) | \(ratio) |")
        }
    }

    // Latency.
    var latency = LatencyFigures(interval: "100ms")
    if options.runs("latency") {
        latency = try await measureLatency(modbridge: options.modbridge, folder: folder.path + "/latency", interval: latency.interval, samples: options.latencySamples)
    }
    let latencyCells = [latency.endToEnd, latency.afterAnswer].map { samples in
        [50, 99, 100].map { formatted(percentile(Double($0), of: samples), decimals: 2) }
    }
    if options.runs("latency") {
        print("\nregister change → subscriber, ms (\(latency.endToEnd.count) samples, polled every \(latency.interval))")
        print("from the register change:      p50 \(latencyCells[0][0])  p99 \(latencyCells[0][1])  max \(latencyCells[0][2])")
        print("from the answer carrying it:   p50 \(latencyCells[1][0])  p99 \(latencyCells[1][1])  max \(latencyCells[1][2])  (\(latency.afterAnswer.count) samples)")
    }

    // Load.
    var loadTable: [String] = []
    if options.runs("load") {
        print("\nmodbridge run, \(options.devices) Modbus TCP devices × \(BenchProfile.pointCount) points, \(formatted(options.seconds, decimals: 0)) s measured, median of \(options.repeats) runs")
        print(column("interval", 10) + column("report", 25) + column("CPU %", 8) + column("CPU % of each run", 20) + column("RSS MiB", 9)
              + column("peak MiB", 10) + column("threads", 9)
              + column("requests/s", 12) + column("events/s", 10) + "points/s delivered")
    }
    let loads: [(interval: String, onChange: Bool)] = options.runs("load") ? [("1s", false), ("100ms", false), ("100ms", true)] : []
    // Rounds of every row in turn, so that a slow spell of the machine touches each row alike.
    var runsByRow = Array(repeating: [LoadFigures](), count: loads.count)
    for round in 0..<(loads.isEmpty ? 0 : options.repeats) {
        for (index, (interval, onChange)) in loads.enumerated() {
            let load = try await measureLoad(modbridge: options.modbridge, folder: folder.path + "/load-\(round)-\(index)",
                                             devices: options.devices, interval: interval, onChange: onChange, seconds: options.seconds)
            print("  round \(round + 1): \(interval), \(onChange ? "on change" : "every point"): CPU \(formatted(load.cpuPercent)) %")
            runsByRow[index].append(load)
        }
    }
    for (index, (interval, onChange)) in loads.enumerated() {
        let runs = runsByRow[index]
        let load = runs.sorted { $0.cpuPercent < $1.cpuPercent }[runs.count / 2]  // the median run
        let report = onChange ? "on change (none)" : "every point, every poll"
        let peakResident = runs.map(\.residentKiB).max() ?? load.residentKiB
        let target = !onChange && interval == "100ms"
            ? (load.cpuPercent < 25 && Double(peakResident) / 1024 < 50 ? "yes" : "**no**") : "—"
        let cells = [formatted(load.cpuPercent), runs.map { formatted($0.cpuPercent) }.joined(separator: " / "),
                     formatted(Double(peakResident) / 1024), formatted(Double(runs.map(\.peakKiB).max() ?? load.peakKiB) / 1024),
                     "\(load.threads)", formatted(load.requestsPerSecond, decimals: 0), formatted(load.eventsPerSecond, decimals: 0),
                     formatted(load.pointsPerSecond, decimals: 0)]
        print(column(interval, 10) + column(report, 25) + zip(cells, [8, 20, 9, 10, 9, 12, 10, 0]).map { column($0, $1) }.joined())
        let problems = runs.flatMap(\.problems)
        if !problems.isEmpty {
            print("  \(problems.count) warnings/errors in the gateway logs, first: \(problems[0])")
        }
        loadTable.append("| \(interval) | \(report) | \(cells.joined(separator: " | ")) | \(problems.count) | \(target) |")
    }
    // /metrics under the 100 ms every-point load: wrk scrapes it as fast as it can.
    var metricsRow = "| — | — | — | — | — | — |"
    if options.runs("metrics") {
        let load = try await measureLoad(modbridge: options.modbridge, folder: folder.path + "/metrics", devices: options.devices,
                                         interval: "100ms", onChange: false, seconds: options.seconds, scrapeMetrics: true)
        if let scrape = load.metrics {
            let cells = [formatted(scrape.requestsPerSecond, decimals: 0), formatted(scrape.p50, decimals: 2), formatted(scrape.p99, decimals: 2),
                         formatted(scrape.bytesPerRequest / 1024, decimals: 1), formatted(load.cpuPercent), formatted(load.pointsPerSecond, decimals: 0)]
            print("\n/metrics under polling load (100 ms, every point; wrk -t1 -c\(MetricsLoad.connections)): \(cells[0]) requests/s, p50 \(cells[1]) ms, "
                  + "p99 \(cells[2]) ms, \(cells[3]) KiB a page; gateway CPU \(cells[4]) %, \(cells[5]) points/s delivered meanwhile"
                  + (scrape.errors.map { "; wrk: \($0)" } ?? ""))
            metricsRow = "| " + cells.joined(separator: " | ") + " |"
        }
    }
    let total = formatted(milliseconds(started.duration(to: .now)) / 1000, decimals: 0)
    print("\n(\(total) s)")

    if let path = options.markdown {
        let body = """
        ## Gateway: planner, latency, CPU and memory of `modbridge run`

        Command: `make bench` (the gateway part alone: `make bench-gateway`, which runs
        `modbridge-gateway-bench --modbridge .build/release/modbridge --write BENCHMARKS.md`; \(total) s).
        Measured \(utcDay()) on \(machineDescription()).

        **Requests per poll cycle** for each shipped profile, as `modbridge check` reports them:
        the planner's merged reads (same unit, table and interval; gaps up to the profile's `maxGap`;
        never over its read limit) against one request per polled point. A profile whose points
        have several intervals counts each group once.

        | profile | polled points | one request per point | planner | planner / per point |
        |---|---|---|---|---|
        \(plannerTable.joined(separator: "\n"))

        **Register change → subscriber**: one simulated Modbus TCP controller polled every
        \(latency.interval) by `modbridge run` (30 points, 3 requests per cycle, reported on change). At a
        random moment of the cycle the bench sets a holding register; its MQTT client (subscribed
        to `$devices/oven/events` at QoS 1 on the embedded broker) notes when the events document
        with the new value arrives. "From the change" includes waiting for the next poll (up to one
        interval); "from the answer" starts when the simulator began writing the answer that
        carried it: read, decode, report, publish into the broker, delivery over TCP.
        \(latency.endToEnd.count) samples; ms.

        | measured from | p50 | p99 | max |
        |---|---|---|---|
        | the register change | \(latencyCells[0].joined(separator: " | ")) |
        | the answer carrying it | \(latencyCells[1].joined(separator: " | ")) |

        **CPU and memory of `modbridge run`** polling \(options.devices) simulated Modbus TCP devices ×
        \(BenchProfile.pointCount) points (the bench controller: 10 holding registers, 12 input points over
        15 registers, 8 discrete inputs; 3 requests per cycle), each device on its own bus and TCP
        connection, the simulators (10 units each) in the bench's process. One MQTT client in the
        bench subscribes to `$devices/+/events` at QoS 1 and counts the points delivered.
        CPU % = user + system time of the modbridge process over \(formatted(options.seconds, decimals: 0)) s
        (after every device is online and 2 s more), as % of one core. Each row is measured in
        \(options.repeats) separate runs (a fresh `modbridge run` each; rounds of every row in turn) and
        the run with the median CPU is shown, with every run's CPU beside it: on this VM the same
        binary lands ±1.5 points apart from run to run. RSS is VmRSS at the end, peak is VmHWM (both
        the largest of the runs). "every point, every poll" (`"onChange": false`) publishes all 30 points at
        every read, the heaviest case; "on change" with values that do not change publishes
        nothing, the cost of polling alone. Target for the 100 ms, every-point row
        (\(options.devices * BenchProfile.pointCount * 10) points/s): under 25 % of one core and under 50 MB resident.

        | interval | report | CPU % of one core (median run) | CPU % of each run | RSS MiB | peak MiB | threads | requests/s | events/s | points/s delivered | log warnings | target met |
        |---|---|---|---|---|---|---|---|---|---|---|---|
        \(loadTable.joined(separator: "\n"))

        **`/metrics` under polling load**: the 100 ms every-point run again, with an HTTP listener
        serving metrics; over the measured window `wrk -t1 -c\(MetricsLoad.connections) --latency` (Debian's wrk,
        in its own process, kept-alive connections) requests `/metrics` as fast as the gateway
        answers, while the polling goes on. The page is rendered on the broker's reactor thread from
        snapshots (\(options.devices) devices, \(options.devices) buses). CPU % is the gateway's, polling included; wrk
        itself takes most of the other core.

        | /metrics requests/s | p50 ms | p99 ms | KiB per page | gateway CPU % of one core | points/s delivered meanwhile |
        |---|---|---|---|---|---|
        \(metricsRow)
        """
        try writeSection("gateway-bench", body: body, to: path)
        print("wrote \(path)")
    }
}

do {
    let options = Options(Array(CommandLine.arguments.dropFirst()))
    if options.footprintLine { try await printFootprintLine(options) } else { try await runBench(options) }
} catch {
    benchFailure("\(error)")
}
