import Foundation
import GatewayCore
import Modbus
import Testing
import TestSupport

/// Commands that confirm what the device holds, retries until a deadline, and devices that only
/// take writes: a `BusWorker` on the simulator's pty behind a recording channel.
@Suite("Confirmed writes: read-back, retries until a deadline, write-only devices")
struct ConfirmedWriteTests {
    typealias Rig = DeviceChannelTests.Rig

    /// The fixture's oven with read-back on its set point (holding 0, tenths of °C).
    static let readBackProfile = """
        { "model": "test-oven", "vendor": "modbridge tests",
          "defaults": { "interval": "100ms" },
          "points": [
            { "name": "set_point", "table": "holding", "address": 0, "type": "int16", "scale": 0.1,
              "access": "readwrite", "min": 0, "max": 170, "readBack": true },
            { "name": "mode", "table": "holding", "address": 1, "type": "enum", "access": "readwrite",
              "labels": { "0": "off", "1": "heat", "2": "cool" } },
            { "name": "temperature", "table": "input", "address": 0, "type": "int16", "scale": 0.1 } ] }
        """

    /// FC06 requests to holding register `address` the simulator received.
    static func singleWrites(_ rig: Rig, address: Int) -> Int {
        rig.gateway.writes.filter { $0.function == 6 && $0.address == address }.count
    }

    @Test("A write with read-back acks the value the device holds")
    func readBackAcksTheDevicesValue() async throws {
        let rig = try Rig(profile: Self.readBackProfile)
        rig.start()
        #expect(await rig.channel.first(.state) { $0["online"] as? Bool == true } != nil)

        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 80.5, "id": "rb"}"#)
        let ack = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "rb" })
        #expect(ack["ok"] as? Bool == true, "\(ack)")
        #expect((ack["readBack"] as? [String: Any])?["set_point"] as? Double == 80.5, "\(ack)")
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [805])
        // The read-back is one FC03 of holding 0 after the write.
        let requests = rig.gateway.simulator.requests
        let write = try #require(requests.lastIndex { $0.functionCode == 6 })
        #expect(requests[(write + 1)...].contains { $0.functionCode == 3 && Array($0.frame[2..<6]) == [0, 0, 0, 1] })

        // A point without readBack gets no readBack member.
        rig.channel.inject(.devicePoint(device: "oven-1", point: "mode"), #"{"value": "cool", "id": "plain"}"#)
        let plain = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "plain" })
        #expect(plain["ok"] as? Bool == true && plain["readBack"] == nil, "\(plain)")
        await rig.worker.stop(reason: "test over")
    }

    @Test("A device that keeps another value than written (it clamps): the ack says ok false, with both values")
    func readBackMismatchIsAFailure() async throws {
        // The controller keeps its set point at 100.0 °C at most.
        let rig = try Rig(profile: Self.readBackProfile) { SimulatedController(unit: $0, temperatureModel: false, clampedHoldingRegisters: [0: 0...1000]) }
        rig.start()
        #expect(await rig.channel.first(.state) { $0["online"] as? Bool == true } != nil)

        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 150, "id": "hot"}"#)
        let ack = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "hot" })
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [1000])
        #expect(ack["ok"] as? Bool == false, "\(ack)")
        #expect((ack["written"] as? [String: Any])?["set_point"] as? Double == 150)
        #expect((ack["readBack"] as? [String: Any])?["set_point"] as? Double == 100)
        #expect(ack["error"] as? String == "set_point: wrote 150, the device holds 100 (read back)", "\(ack)")
        #expect(ack["exception"] == nil)
        await rig.worker.stop(reason: "test over")
    }

    @Test("A write that times out twice is retried and succeeds: ok, the register holds it, three write frames")
    func retriedWriteSucceeds() async throws {
        let rig = try Rig()
        rig.start()
        #expect(await rig.firstFullState() != nil)

        // Only the writes go unanswered, so that polls cannot take the faults.
        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [6], times: 2)
        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 42, "id": "retry"}"#)
        let ack = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "retry" })
        #expect(ack["ok"] as? Bool == true, "\(ack)")
        #expect(ack["attempts"] as? Int == 3, "\(ack)")
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [420])
        #expect(Self.singleWrites(rig, address: 0) == 3)
        // Two timeouts in a row do not make the device offline. (A state republished meanwhile may
        // name the last error: a slow run passes the state interval; it still says online.)
        #expect(!rig.channel.published.contains { $0.kind == .state && GatewayFixture.json($0.payload)?["online"] as? Bool == false })
        await rig.worker.stop(reason: "test over")
    }

    @Test("A write the device never answers is acked as failed once its deadline has passed, with the last error and the attempts")
    func writeFailsAtItsDeadline() async throws {
        let rig = try Rig()
        rig.start()
        #expect(await rig.firstFullState() != nil)

        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [6], times: nil)
        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 43, "id": "lost", "deadline": "1200ms"}"#)
        let ack = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "lost" })
        #expect(ack["ok"] as? Bool == false)
        let error = try #require(ack["error"] as? String)
        #expect(error.hasPrefix("timeout (no answer); gave up after "), "\(error)")
        #expect(error.hasSuffix("(deadline 1200 ms)"), "\(error)")
        let attempts = try #require(ack["attempts"] as? Int)
        #expect(attempts >= 2)
        #expect(Self.singleWrites(rig, address: 0) == attempts)
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [0])
        #expect((ack["written"] as? [String: Any]) == nil)

        // A deadline out of range is refused before anything is written.
        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 44, "id": "bad", "deadline": "1h"}"#)
        let refused = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "bad" })
        #expect((refused["error"] as? String)?.hasPrefix("deadline: found \"1h\"") == true, "\(refused)")
        #expect(Self.singleWrites(rig, address: 0) == attempts)
        await rig.worker.stop(reason: "test over")
    }

    @Test("While one device's write waits for its next attempt, the other device on the bus keeps being polled")
    func retriesLeaveTheBusToOthers() async throws {
        let rig = try Rig(units: [1, 2])
        rig.start()
        #expect(await rig.firstFullState() != nil)

        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [6], times: nil)
        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 45, "id": "slow", "deadline": "2s"}"#)
        let ack = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "slow" })
        #expect(ack["ok"] as? Bool == false)
        // Between the first and the last write attempt, unit 2 was read; unit 1 only written to.
        let requests = rig.gateway.simulator.requests
        let first = try #require(requests.firstIndex { $0.functionCode == 6 })
        let last = try #require(requests.lastIndex { $0.functionCode == 6 })
        let between = requests[first...last]
        #expect(between.contains { $0.unit == 2 && $0.functionCode != 6 })
        #expect(between.filter { $0.unit == 1 }.allSatisfy { $0.functionCode == 6 })
        await rig.worker.stop(reason: "test over")
    }

    @Test("A batch may give its own deadline; a command still waiting when the worker stops is answered as not done")
    func waitingCommandAnsweredAtStop() async throws {
        let rig = try Rig()
        rig.start()
        #expect(await rig.firstFullState() != nil)

        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [6], times: nil)
        rig.channel.inject(.deviceBatch(device: "oven-1"), #"{"id": "long", "deadline": 60000, "set_point": 46}"#)
        #expect(await eventually { Self.singleWrites(rig, address: 0) >= 2 })
        await rig.worker.stop(reason: "test over")
        let ack = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "long" })
        #expect(ack["ok"] as? Bool == false)
        #expect((ack["error"] as? String)?.hasPrefix("not done: test over (after ") == true, "\(ack)")
        #expect(ack["attempts"] as? Int == Self.singleWrites(rig, address: 0))
    }

    /// A device that takes writes only: its set point, and nothing it answers when read.
    static let writeOnlyProfile = """
        { "model": "test-oven", "vendor": "modbridge tests", "writeOnly": true, "writeDeadline": "3s",
          "points": [ { "name": "set_point", "table": "holding", "address": 0, "type": "uint16", "access": "write" } ] }
        """

    @Test("A write-only device: commands are written and acked while reads would time out, it is not reported offline, and a command after write failures is still tried")
    func writeOnlyDevice() async throws {
        let rig = try Rig(profile: Self.writeOnlyProfile)
        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [1, 2, 3, 4], times: nil)
        rig.start()
        // Before its first write it has said nothing (neither online nor offline) and was never read.
        try await Task.sleep(for: .milliseconds(300))
        #expect(rig.channel.published.isEmpty)
        #expect(rig.gateway.simulator.requests.isEmpty)

        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 7, "id": "w1"}"#)
        let ack = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "w1" })
        #expect(ack["ok"] as? Bool == true, "\(ack)")
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [7])
        // The write's answer counts: the device is online.
        #expect(await rig.channel.first(.state) { $0["online"] as? Bool == true } != nil)
        // Nothing is ever read from it: no polls, no probes.
        try await Task.sleep(for: .milliseconds(300))
        #expect(rig.gateway.simulator.requests.allSatisfy { $0.functionCode == 6 })
        #expect(!rig.channel.published.contains { $0.kind == .state && GatewayFixture.json($0.payload)?["online"] as? Bool == false })

        // Its writes go unanswered until the deadline: failed, and offline by its writes.
        let start = rig.channel.published.count
        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [6], times: nil)
        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 8, "id": "w2"}"#)
        let failed = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "w2" })
        #expect(failed["ok"] as? Bool == false)
        #expect(await rig.channel.first(.state, after: start) { $0["online"] as? Bool == false } != nil)

        // The next command is tried all the same (not refused as "device offline"), and its answer brings it back.
        let retried = rig.channel.published.count
        rig.gateway.simulator.clearFaults()
        rig.gateway.simulator.inject(.noAnswer, unit: 1, functions: [1, 2, 3, 4], times: nil)
        rig.channel.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 9, "id": "w3"}"#)
        let written = try #require(await rig.channel.first(.ack) { $0["id"] as? String == "w3" })
        #expect(written["ok"] as? Bool == true, "\(written)")
        #expect(rig.controller.registers(.holdingRegisters, address: 0, count: 1) == [9])
        #expect(await rig.channel.first(.state, after: retried) { $0["online"] as? Bool == true } != nil)
        #expect(rig.gateway.simulator.requests.allSatisfy { $0.functionCode == 6 })
        await rig.worker.stop(reason: "test over")
    }
}
