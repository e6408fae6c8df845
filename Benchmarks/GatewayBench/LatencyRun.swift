import BenchSupport
import Foundation
import Mapping
import Modbus
import POSIX
import MQTT
import Synchronization
import TestSupport

/// Register change → subscriber, in milliseconds: from the moment the simulator's register is
/// set, and from the moment the simulator started writing the answer that carried it.
struct LatencyFigures {
    let interval: String
    var endToEnd: [Double] = []
    var afterAnswer: [Double] = []
}

/// One device polled every `interval` (on change) over Modbus TCP; `samples` times, at a random
/// moment of the cycle, a set point register changes and the bench's MQTT client waits for it
/// on `$devices/oven/events`.
func measureLatency(modbridge: String, folder: String, interval: String, samples: Int) async throws -> LatencyFigures {
    let controller = SimulatedController(unit: 1, temperatureModel: false)
    BenchProfile.fill(controller, seed: 0)
    let simulator = try ModbusSimulator.startTCP(controllers: [controller])
    defer { simulator.stop() }
    let gateway = try GatewayUnderTest(modbridge: modbridge, folder: folder, profileJSON: BenchProfile.json(interval: interval, onChange: true),
                                       devices: [BenchDevice(id: "oven", port: simulatorPort(simulator), unit: 1)])
    defer { _ = gateway.stop() }

    let client = try await connect(gateway.brokerPort, "bench-latency")
    _ = try await client.subscribe([Subscription(filter: "$devices/oven/events", qos: .atLeastOnce),
                                    Subscription(filter: "$devices/oven/state", qos: .atLeastOnce)])
    // Each set_point_1 received, with when it arrived; and whether the retained state says online.
    let received = Mutex<[(at: ContinuousClock.Instant, value: Double)]>([])
    let online = Mutex(false)
    let reader = Task {
        for await message in client.messages {
            let now = ContinuousClock.now
            let document = (try? JSONSerialization.jsonObject(with: Data(message.payload))) as? [String: Any] ?? [:]
            if message.topic.hasSuffix("/state") {
                online.withLock { $0 = document["online"] as? Bool == true }
            } else if let value = document["set_point_1"] as? Double {
                received.withLock { $0.append((now, value)) }
            }
        }
    }
    defer { reader.cancel() }
    guard await eventually({ online.withLock { $0 } }, attempts: 1000) else {
        throw BenchError("the device did not come online", log: gateway.log)
    }

    var figures = LatencyFigures(interval: interval)
    guard let cycle = DurationText.parse(interval) else { throw BenchError("'\(interval)' is not a duration") }
    for sample in 0..<samples {
        try await Task.sleep(for: .microseconds(Int64.random(in: 0..<cycle.microseconds)))
        let raw = UInt16(1000 + sample % 2000)
        let expected = Double(raw) / 10
        let changed = ContinuousClock.now
        controller.setRegisters(.holdingRegisters, address: 0, [raw])
        var arrival: ContinuousClock.Instant?
        _ = await eventually({
            arrival = received.withLock { $0.last(where: { abs($0.value - expected) < 0.01 })?.at }
            return arrival != nil
        }, attempts: 500)
        guard let arrival else { throw BenchError("set_point_1 = \(expected) never reached the subscriber") }
        figures.endToEnd.append(milliseconds(changed.duration(to: arrival)))
        // The answer that carried the new value: the last read of the holding registers answered before it arrived.
        if let answered = simulator.requests.last(where: { $0.functionCode == 3 && ($0.answeredAt.map { $0 <= arrival } ?? false) })?.answeredAt {
            figures.afterAnswer.append(milliseconds(answered.duration(to: arrival)))
        }
    }
    await client.disconnect()
    return figures
}

/// The port of a TCP simulator (its address is `tcp://127.0.0.1:PORT`).
func simulatorPort(_ simulator: ModbusSimulator) -> UInt16 {
    UInt16(simulator.address.split(separator: ":").last ?? "") ?? 0
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}
