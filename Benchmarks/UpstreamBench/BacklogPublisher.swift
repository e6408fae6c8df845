import Glibc
import Mapping
import MQTT
import POSIX

/// A plain MQTT client that publishes at QoS 1 into a broker (the bridge's local Mosquitto):
/// pipelined, at most `window` messages not yet acknowledged, so the broker is never the one
/// waiting for it.
final class BacklogPublisher {
    private let socket: Socket
    private var framer = MQTTFramer()
    private var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    private var nextIdentifier: UInt16 = 0
    /// PUBACKs received so far.
    private var acknowledged = 0

    init(port: UInt16, clientID: String) throws {
        socket = try Socket.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
        try socket.writeAll(MQTTPacket.connect(Connect(clientIdentifier: clientID, cleanSession: true, keepAlive: 0)).encoded())
        var accepted = false
        try read(until: { accepted }) { packet in
            if case let .connectAcknowledgement(answer) = packet, answer.returnCode == .accepted { accepted = true }
        }
    }

    deinit { socket.close() }

    /// Publishes messages 0 ..< `count` (device `index % devices`) and returns once each has its PUBACK.
    func publishBacklog(count: Int, devices: Int, window: Int = 2000) throws {
        var sent = 0
        acknowledged = 0
        let topics = (0..<devices).map { BenchMessages.topic(device: $0 + 1) }
        while acknowledged < count {
            var batch: [UInt8] = []
            while sent < count && sent - acknowledged < window && batch.count < 128 * 1024 {
                let payload = BenchMessages.payload(sent, wallMilliseconds: Timestamp.nowMilliseconds())
                batch += try packet(topic: topics[sent % devices], payload: payload)
                sent += 1
            }
            if !batch.isEmpty { try socket.writeAll(batch, timeout: .seconds(30)) }
            // Read what is there; wait while the window is full, and at the end for every PUBACK.
            if sent == count {
                try read(until: { self.acknowledged >= count }) { _ in }
            } else if sent - acknowledged >= window {
                try read(until: { sent - self.acknowledged < window / 2 }) { _ in }
            }
        }
    }

    /// One QoS 1 PUBLISH (the live message of the bridge's row).
    func publish(topic: String, payload: [UInt8]) throws {
        try socket.writeAll(packet(topic: topic, payload: payload))
    }

    private func packet(topic: String, payload: [UInt8]) throws -> [UInt8] {
        nextIdentifier = nextIdentifier == UInt16.max ? 1 : nextIdentifier + 1
        return try MQTTPacket.publish(Publish(topic: topic, payload: payload, qos: .atLeastOnce, packetIdentifier: nextIdentifier)).encoded()
    }

    /// Reads packets until `done()` (checked before each wait; at most 30 s without a byte).
    private func read(until done: () -> Bool, _ handle: (MQTTPacket) -> Void) throws {
        while true {
            while let packet = try framer.next() {
                if case .publishAcknowledgement = packet { acknowledged += 1 } else { handle(packet) }
            }
            if done() { return }
            guard try socket.wait(for: Int16(POLLIN), timeout: .seconds(30)) else { throw BenchError("the local broker stopped answering") }
            guard let count = try buffer.withUnsafeMutableBytes({ try socket.read(into: $0) }) else { continue }
            guard count > 0 else { throw BenchError("the local broker closed the publisher's connection") }
            framer.append(buffer[0..<count])
        }
    }
}
