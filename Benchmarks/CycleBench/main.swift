// `make bench-cycle`: for each shipped profile at 9600 8E1 and 19200 8E1, the poll cycle
// `check --plan` predicts next to the one a `Bus` measures over a pty whose simulator keeps the
// line's character times, and the wire efficiency (data bits carried per bit the line could
// carry) measured, predicted, and the limit of the frames alone.
//
//   modbridge-cycle-bench [--mappings DIR] [--cycles N] [--write BENCHMARKS.md]
import BenchSupport
import Foundation  // the benchmark is not shipped: Foundation's conveniences are fine here
import GatewayCore
import Mapping
import Modbus
import POSIX
import Serial

struct Options {
    var mappings = "mappings"
    var cycles = 5
    var markdown: String?

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--mappings": mappings = iterator.next() ?? mappings
            case "--cycles": cycles = max(1, Int(iterator.next() ?? "") ?? cycles)
            case "--write": markdown = iterator.next()
            default: benchFailure("unknown argument \(argument)")
            }
        }
    }
}

/// Runs every request of a cycle, round after round, on the bus's own thread (as the poller
/// does): one round to warm up, then `cycles` rounds back to back, each timed.
final class CycleDriver: BusDriver, @unchecked Sendable {
    struct Outcome {
        var rounds: [Duration]?
        var failures: [String] = []
    }

    let requests: [ModbusRequest]
    let cycles: Int
    let outcome = ConditionLock(Outcome())

    init(requests: [ModbusRequest], cycles: Int) {
        self.requests = requests
        self.cycles = cycles
    }

    func run(on line: BusLine, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        var failures: [String] = []
        var rounds: [Duration] = []
        for round in 0...cycles {
            let started = ContinuousClock.now
            for request in requests {
                if case let .failure(error) = line.perform(request, unit: 1) { failures.append("\(request.summary): \(error)") }
            }
            if round > 0 { rounds.append(started.duration(to: .now)) }
        }
        outcome.withLockAndSignal { $0.rounds = rounds; $0.failures = failures }
        return nil
    }

    /// Waits for the rounds to be done.
    func result() -> Outcome {
        outcome.wait(until: nil) { state in state.rounds == nil ? nil : state } ?? Outcome()
    }
}

struct Row {
    let model: String
    let line: SerialSettings
    let cycle: CyclePredictor.Cycle
    let measured: Duration
    let median: Duration
    let failures: Int

    var difference: Double { (measured.inSeconds - cycle.duration.inSeconds) / cycle.duration.inSeconds }
    /// Data bits per bit the line carries, if nothing but the frames were on it (no silence, no turnaround).
    var frameLimit: Double {
        Double(cycle.payloadBits) / Double(cycle.characters * line.bitsPerCharacter)
    }
    var measuredEfficiency: Double { Double(cycle.payloadBits) / (measured.inSeconds * Double(line.baudRate.rawValue)) }
}

func measure(model: String, profile: DeviceProfile, line: SerialSettings, cycles: Int) async throws -> Row {
    let plan = PollPlan(profile: profile, start: .now)
    let groups = BusCyclePlan.groups(deviceID: model, unit: 1, plan: plan)
    let cycle = CyclePredictor(settings: line).cycle(groups)
    let timing = SimulatedLineTiming(settings: line, turnaround: profile.limits.turnaround ?? CyclePredictor.defaultTurnaround)
    // Every address a profile may name, so that each read gets the answer the prediction counts.
    let simulator = try ModbusSimulator.startRTU(controllers: [SimulatedController(unit: 1, temperatureModel: false, addresses: 65536)],
                                                 lineTiming: timing)
    let driver = CycleDriver(requests: groups.flatMap(\.requests), cycles: cycles)
    let bus = try Bus(BusConfiguration(target: .rtu(path: simulator.address, settings: line), responseTimeout: .seconds(2)), driver: driver)
    let outcome = driver.result()
    await bus.close()
    simulator.stop()
    // The fastest round: other work on the machine's cores only ever adds time (a late wake-up of
    // the bus or simulator thread), and that time is not the line's. The median is shown beside it.
    let rounds = outcome.rounds ?? []
    let measured = rounds.min() ?? .zero
    let median = percentile(50, of: rounds)
    return Row(model: model, line: line, cycle: cycle, measured: measured, median: median, failures: outcome.failures.count)
}

func percent(_ ratio: Double) -> String { formatted(ratio * 100) + " %" }
func ms(_ duration: Duration) -> String { formatted(duration.inSeconds * 1000) }

let options = Options(Array(CommandLine.arguments.dropFirst()))
let files = (try? FileManager.default.contentsOfDirectory(atPath: options.mappings))?.filter { $0.hasSuffix(".json") }.sorted() ?? []
if files.isEmpty { benchFailure("no profiles in \(options.mappings)") }
let lines = [SerialSettings(baudRate: .b9600, parity: .even, rs485: .init(mode: .off)),
             SerialSettings(baudRate: .b19200, parity: .even, rs485: .init(mode: .off))]
var rows: [Row] = []
for file in files {
    let path = options.mappings + "/" + file
    let profile: DeviceProfile
    do {
        profile = try DeviceProfile.parse(try Data(contentsOf: URL(fileURLWithPath: path)), file: path)
    } catch {
        benchFailure("\(path): \(error)")
    }
    for line in lines {
        let row = try await measure(model: profile.model, profile: profile, line: line, cycles: options.cycles)
        print("\(row.model) \(line.summary): \(row.cycle.requests) requests, \(row.cycle.characters) bytes, predicted \(ms(row.cycle.duration)) ms, "
            + "measured \(ms(row.measured)) ms (\(row.difference >= 0 ? "+" : "")\(percent(row.difference))), median \(ms(row.median)) ms, "
            + "efficiency \(percent(row.measuredEfficiency)) measured, \(percent(row.cycle.efficiency(baud: line.baudRate.rawValue))) predicted, "
            + "\(percent(row.frameLimit)) frames alone\(row.failures > 0 ? ", \(row.failures) failed transactions" : "")")
        rows.append(row)
    }
}

let command = "`make bench-cycle` (`.build/release/modbridge-cycle-bench --cycles \(options.cycles) --write BENCHMARKS.md`)"
var body = """
## Modbus RTU: predicted and measured poll cycle, wire efficiency

Measured on \(machineDescription()), \(utcDay()), with \(command).

Each shipped profile polled as one device (every poll group once per cycle, unit 1) through a `Bus`
on a pty, the simulator keeping the line's character times: a request counts as received after
its characters at the line's rate, the device waits t3.5 and its turnaround (the profile's, else
5 ms), and releases its answer after the answer's characters. Predicted: `CyclePredictor`, as
`modbridge check --plan` prints it. Measured: the fastest of \(options.cycles) cycles back to back,
after one to warm up (other work on the machine only ever adds time, which is not the line's; the
median is beside it). Efficiency: data bits read (16 a register, 1 a bit) per bit
the line could carry in the cycle; "frames alone" is the limit with no silence and no turnaround.
Target: measured within 10 % of predicted.

| profile | line | requests | bytes | predicted ms | measured ms | difference | median ms | efficiency measured | predicted | frames alone |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|

"""
for row in rows {
    body += "| \(row.model) | \(row.line.summary) | \(row.cycle.requests) | \(row.cycle.characters) | \(ms(row.cycle.duration)) | "
    body += "\(ms(row.measured))\(row.failures > 0 ? " (\(row.failures) failed)" : "") | \(row.difference >= 0 ? "+" : "")\(percent(row.difference)) | \(ms(row.median)) | "
    body += "\(percent(row.measuredEfficiency)) | \(percent(row.cycle.efficiency(baud: row.line.baudRate.rawValue))) | \(percent(row.frameLimit)) |\n"
}
let worst = rows.map { abs($0.difference) }.max() ?? 0
body += "\nLargest difference: \(percent(worst)) (\(worst <= 0.10 ? "within" : "outside") the 10 % target).\n"
if let markdown = options.markdown {
    do {
        try writeSection("cycle-bench", body: body, to: markdown)
    } catch {
        benchFailure("cannot write \(markdown): \(error)")
    }
    print("wrote the cycle-bench section of \(markdown)")
}
