import GatewayCore
import POSIX
import Synchronization
import Testing

/// A command that arrives on both sides (embedded and upstream), or twice on one, runs once per
/// request id within the window; commands without an id always run.
@Suite struct CommandDeduplicationTests {
    private func input(_ payload: String, point: String = "set_point") -> DeviceInput {
        DeviceInput(topic: .devicePoint(device: "oven-1", point: point), payload: Array(payload.utf8))
    }

    @Test func aRequestIdRunsOncePerDeviceWithinTheWindow() {
        let deduplicator = CommandDeduplicator(window: .seconds(600))
        let start = ContinuousClock.now
        #expect(deduplicator.admit(input(#"{"value": 70, "id": "r1"}"#), device: "oven-1", at: start))
        #expect(!deduplicator.admit(input(#"{"value": 70, "id": "r1"}"#), device: "oven-1", at: start.advanced(by: .seconds(5))))
        // Another device, another id, the number 1 beside the string "1": all distinct.
        #expect(deduplicator.admit(input(#"{"value": 70, "id": "r1"}"#), device: "oven-2", at: start))
        #expect(deduplicator.admit(input(#"{"value": 70, "id": "r2"}"#), device: "oven-1", at: start))
        #expect(deduplicator.admit(input(#"{"value": 70, "id": 1}"#), device: "oven-1", at: start))
        #expect(deduplicator.admit(input(#"{"value": 70, "id": "1"}"#), device: "oven-1", at: start))
        // Past the window the id is new again.
        #expect(deduplicator.admit(input(#"{"value": 70, "id": "r1"}"#), device: "oven-1", at: start.advanced(by: .seconds(601))))
    }

    @Test func aWindowOfZeroTurnsItOff() {
        let deduplicator = CommandDeduplicator(window: .zero)
        for _ in 0..<2 { #expect(deduplicator.admit(input(#"{"value": 70, "id": "r1"}"#), device: "oven-1")) }
    }

    @Test func commandsWithoutAnIdAlwaysRun() {
        let deduplicator = CommandDeduplicator(window: .seconds(600))
        for _ in 0..<3 { #expect(deduplicator.admit(input("70"), device: "oven-1")) }
        for _ in 0..<3 { #expect(deduplicator.admit(input(#"{"value": 70}"#), device: "oven-1")) }
    }

    @Test func theSameCommandFromBothSidesReachesTheDeviceOnce() async {
        let local = RecordingDeviceChannel(), upstream = RecordingDeviceChannel()
        let log = CapturedLog()
        let fanOut = FanOutDeviceChannel(deviceID: "oven-1", channels: [local, upstream],
                                         deduplicator: CommandDeduplicator(window: .seconds(600)), logger: log.logger())
        let received = Mutex<[String]>([])
        fanOut.receive { input in
            received.withLock { $0.append(String(decoding: input.payload, as: UTF8.self)) }
            return true
        }
        local.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 70, "id": "r1"}"#)
        upstream.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 70, "id": "r1"}"#)
        upstream.inject(.devicePoint(device: "oven-1", point: "set_point"), #"{"value": 71, "id": "r2"}"#)
        #expect(received.withLock { $0 } == [#"{"value": 70, "id": "r1"}"#, #"{"value": 71, "id": "r2"}"#])
        #expect(log.events("command_duplicate").count == 1)
        // What the device publishes goes out on both sides.
        fanOut.publishAck(Array(#"{"id":"r1","ok":true}"#.utf8))
        #expect(local.published.count == 1 && upstream.published.count == 1)
    }
}
