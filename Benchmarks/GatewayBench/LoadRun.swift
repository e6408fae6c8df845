import BenchSupport
import Foundation
import Modbus
import MQTT
import Synchronization
import TestSupport

/// What `modbridge run` used while polling many devices, over one measured window.
struct LoadFigures {
    let devices: Int
    let interval: String
    let onChange: Bool
    let seconds: Double
    /// CPU time over the window, in % of one core.
    let cpuPercent: Double
    let residentKiB: Int
    let peakKiB: Int
    let threads: Int
    let requestsPerSecond: Double
    let eventsPerSecond: Double
    /// Points in the events documents the subscriber received.
    let pointsPerSecond: Double
    let problems: [String]
    /// `/metrics` scraped by wrk over the window, if asked for.
    var metrics: MetricsLoad?
    /// Where the resident memory sat at the end of the window.
    let split: MemorySplit
}

/// `devices` Modbus TCP devices of `BenchProfile` (each its own bus and connection; simulators of
/// 10 units each in this process), polled every `interval`; one MQTT client subscribed to every
/// device's events at QoS 1 counts what is delivered.
/// With `scrapeMetrics`, wrk requests `/metrics` as fast as it can over the measured window.
func measureLoad(modbridge: String, folder: String, devices count: Int, interval: String, onChange: Bool, seconds: Double,
                 scrapeMetrics: Bool = false) async throws -> LoadFigures {
    var simulators: [ModbusSimulator] = []
    defer { simulators.forEach { $0.stop() } }
    var devices: [BenchDevice] = []
    for first in stride(from: 0, to: count, by: 10) {
        let units = (1...UInt8(min(10, count - first)))
        let controllers = units.map { SimulatedController(unit: $0, temperatureModel: false) }
        for (offset, controller) in controllers.enumerated() { BenchProfile.fill(controller, seed: first + offset) }
        let simulator = try ModbusSimulator.startTCP(controllers: controllers)
        simulators.append(simulator)
        for unit in units { devices.append(BenchDevice(id: String(format: "dev-%03d", devices.count + 1), port: simulatorPort(simulator), unit: unit)) }
    }
    let gateway = try GatewayUnderTest(modbridge: modbridge, folder: folder, profileJSON: BenchProfile.json(interval: interval, onChange: onChange),
                                       devices: devices, metrics: scrapeMetrics)
    var stopped = false
    defer { if !stopped { _ = gateway.stop() } }

    let client = try await connect(gateway.brokerPort, "bench-load", keepAlive: 60)
    _ = try await client.subscribe([Subscription(filter: "$devices/+/events", qos: .atLeastOnce),
                                    Subscription(filter: "$devices/+/state", qos: .atLeastOnce)])
    let tally = Mutex((events: 0, points: 0, online: Set<String>()))
    let reader = Task {
        for await message in client.messages {
            if message.topic.hasSuffix("/state") {
                let document = (try? JSONSerialization.jsonObject(with: Data(message.payload))) as? [String: Any] ?? [:]
                // Retained: every device's latest state arrives at once, then each change.
                let device = message.topic.split(separator: "/").dropFirst().first.map(String.init) ?? ""
                let online = document["online"] as? Bool == true
                tally.withLock { tally in
                    if online { tally.online.insert(device) } else { tally.online.remove(device) }
                }
            } else {
                tally.withLock { tally in
                    tally.events += 1
                    tally.points += max(0, topLevelFields(message.payload) - 1)  // every field but ts
                }
            }
        }
    }
    defer { reader.cancel() }
    guard await eventually({ tally.withLock { $0.online.count } == count }, attempts: 3000) else {
        throw BenchError("only \(tally.withLock { $0.online.count }) of \(count) devices online",
                         log: gateway.log)
    }
    try await Task.sleep(for: .seconds(2))  // warm-up: every device in its steady cadence

    let answers = { simulators.reduce(0) { $0 + $1.answersSent } }
    let clock = ContinuousClock()
    let (cpuBefore, answersBefore, tallyBefore, start) = (gateway.cpuSeconds(), answers(), tally.withLock { ($0.events, $0.points) }, clock.now)
    var metrics: MetricsLoad?
    if let port = gateway.metricsPort {
        metrics = try await MetricsLoad.run(url: "http://127.0.0.1:\(port)/metrics", seconds: seconds)
    } else {
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    }
    let (cpuAfter, answersAfter, tallyAfter, end) = (gateway.cpuSeconds(), answers(), tally.withLock { ($0.events, $0.points) }, clock.now)
    let memory = gateway.memory()
    let threads = gateway.threads()
    let split = MemorySplit(pid: gateway.process.pid, executable: modbridge)
    let elapsed = milliseconds(start.duration(to: end)) / 1000

    await client.disconnect()
    let problems = gateway.problems()
    stopped = true
    guard gateway.stop() else {
        throw BenchError("modbridge run did not stop cleanly on SIGTERM", log: gateway.log)
    }
    return LoadFigures(devices: count, interval: interval, onChange: onChange, seconds: elapsed,
                       cpuPercent: (cpuAfter - cpuBefore) / elapsed * 100, residentKiB: memory.resident, peakKiB: memory.peak,
                       threads: threads, requestsPerSecond: Double(answersAfter - answersBefore) / elapsed,
                       eventsPerSecond: Double(tallyAfter.0 - tallyBefore.0) / elapsed,
                       pointsPerSecond: Double(tallyAfter.1 - tallyBefore.1) / elapsed, problems: problems, metrics: metrics, split: split)
}

/// The number of members of a JSON object, counted by a scan of its bytes (the subscriber
/// counts 30,000 points a second; a full parse would take a good part of a core from the
/// machine the gateway is measured on).
func topLevelFields(_ payload: [UInt8]) -> Int {
    var depth = 0, commas = 0, inString = false, escaped = false, empty = true
    for byte in payload {
        if inString {
            if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true; if depth == 1 { empty = false }
        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
        case UInt8(ascii: ","): if depth == 1 { commas += 1 }
        default: break
        }
    }
    return empty ? 0 : commas + 1
}
