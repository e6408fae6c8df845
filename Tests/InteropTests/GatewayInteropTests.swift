import Foundation
import Glibc
import TestSupport
import Testing

/// `modbridge run` between peers no one here wrote: a pymodbus RTU server on one end of a socat
/// pty pair stands in for the controller, and `mosquitto_sub`/`mosquitto_pub` are the consumer.
@Suite("Interop: modbridge run with a pymodbus controller and mosquitto clients", .serialized)
struct GatewayInteropTests {
    /// Points on the pymodbus image of unit 7 (Tests/Peers/pymodbus_server.py).
    static let profile = """
    { "model": "pymodbus-image", "vendor": "pymodbus",
      "defaults": { "interval": "200ms" },
      "points": [
        { "name": "h0", "table": "holding", "address": 0, "type": "uint16" },
        { "name": "h3", "table": "holding", "address": 3, "type": "uint16", "access": "readwrite" },
        { "name": "h20", "table": "holding", "address": 20, "type": "uint32", "access": "readwrite" },
        { "name": "i100", "table": "input", "address": 100, "type": "int16", "scale": 0.1 },
        { "name": "d1", "table": "discrete", "address": 1 },
        { "name": "c10", "table": "coil", "address": 10, "access": "readwrite" }
      ] }
    """

    @Test("Telemetry from pymodbus's registers reaches mosquitto_sub; mosquitto_pub commands change them")
    func endToEnd() async throws {
        let folder = TemporaryFolder()
        let peer = try await PymodbusRTUPeer(folder: folder)
        defer { peer.stop() }

        let port = freePort()
        try Self.profile.write(toFile: folder.path + "/pymodbus-image.json", atomically: true, encoding: .utf8)
        try """
        { "broker": { "listeners": [{ "host": "127.0.0.1", "port": \(port), "anonymousAs": "plant" }] },
          "profiles": ["\(folder.path)/pymodbus-image.json"],
          "buses": [{ "id": "line", "type": "rtu", "device": "\(peer.path)", "baud": 19200, "rs485": "off", "responseTimeout": "1s" }],
          "registries": [{ "id": "plant", "devices": [{ "id": "peer", "bus": "line", "unit": 7, "profile": "pymodbus-image" }] }] }
        """.write(toFile: folder.path + "/modbridge.json", atomically: true, encoding: .utf8)
        let gateway = try ChildProcess(modbridgeExecutable, ["run", "--config", folder.path + "/modbridge.json"])
        defer { gateway.stop() }
        for _ in 0..<1000 where !acceptsConnections(port: port) { usleep(10_000) }

        let subscriber = try ChildProcess("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(port), "-v",
                                                           "-t", "$devices/peer/state", "-t", "$devices/peer/events/ack"])
        defer { subscriber.stop() }
        // The retained state gathers every point once each group was read once.
        let state = Self.next(subscriber, on: "$devices/peer/state") { ($0["values"] as? [String: Any])?.count == 6 }
        let values = state?["values"] as? [String: Any]
        #expect(values?["h0"] as? Int == 0)
        #expect(values?["h3"] as? Int == 3)
        #expect(values?["h20"] as? Int == 20 << 16 | 21)
        #expect(values?["i100"] as? Double == 110)
        #expect(values?["d1"] as? Bool == true)
        #expect(values?["c10"] as? Bool == false)
        #expect(state?["online"] as? Bool == true)

        try Self.publish(port, "$devices/peer/commands/h3", #"{"value": 4242, "id": "p1"}"#)
        let ack = Self.next(subscriber, on: "$devices/peer/events/ack") { $0["id"] as? String == "p1" }
        #expect(ack?["ok"] as? Bool == true)
        try Self.publish(port, "$devices/peer/commands", #"{"id": "p2", "h20": 65539, "c10": true}"#)
        let batch = Self.next(subscriber, on: "$devices/peer/events/ack") { $0["id"] as? String == "p2" }
        #expect(batch?["ok"] as? Bool == true)
        // Read back from pymodbus by the gateway's own polls (state is republished within 5 s).
        let after = Self.next(subscriber, on: "$devices/peer/state") {
            let values = $0["values"] as? [String: Any]
            return values?["h3"] as? Int == 4242 && values?["h20"] as? Int == 65539 && values?["c10"] as? Bool == true
        }
        #expect(after != nil)

        try Self.publish(port, "$devices/peer/commands/h0", "1")
        let refused = Self.next(subscriber, on: "$devices/peer/events/ack") { $0["ok"] as? Bool == false }
        #expect(refused?["error"] as? String == "h0 is read-only")
    }

    private static func publish(_ port: UInt16, _ topic: String, _ payload: String) throws {
        let publisher = try ChildProcess("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-q", "1", "-t", topic, "-m", payload])
        #expect(publisher.waitForExit(timeout: .seconds(10)) == 0)
    }

    /// The next `mosquitto_sub -v` line on `topic` whose JSON satisfies `condition` (bounded: 20 s).
    private static func next(_ subscriber: ChildProcess, on topic: String, where condition: ([String: Any]) -> Bool) -> [String: Any]? {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, let line = subscriber.readLine(timeout: .seconds(20)) {
            guard line.hasPrefix(topic + " ") else { continue }
            let payload = Data(line.dropFirst(topic.count + 1).utf8)
            if let object = (try? JSONSerialization.jsonObject(with: payload)) as? [String: Any], condition(object) { return object }
        }
        return nil
    }
}
