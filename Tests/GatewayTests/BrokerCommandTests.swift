import Glibc
import MQTT
import TestSupport
import Testing

/// `modbridge broker` as a process: started on a free port, stopped or killed by the test.
private func startBrokerProcess(_ arguments: [String]) async throws -> (ChildProcess, UInt16) {
    let port = freePort()
    let process = try ChildProcess(ModbridgeProcess.executable, ["broker", "--port", String(port)] + arguments)
    // Ready when a client gets its CONNACK.
    let ready = await eventually {
        guard let probe = try? RawMQTTClient(port: port) else { return false }
        defer { probe.close() }
        return (try? probe.connect(Connect(clientIdentifier: "probe"))) != nil
    }
    guard ready else {
        process.stop()
        throw RawClientError.failed("modbridge broker did not start on port \(port)")
    }
    return (process, port)
}

@Suite("modbridge broker: the broker alone, as a process")
struct BrokerCommandTests {
    @Test("Serves MQTT and exits 0 on SIGTERM")
    func serveAndStop() async throws {
        let (process, port) = try await startBrokerProcess([])
        let subscriber = try RawMQTTClient(port: port)
        _ = try subscriber.connect(Connect(clientIdentifier: "sub"))
        _ = try subscriber.subscribe([Subscription(filter: "x", qos: .atMostOnce)])
        let publisher = try RawMQTTClient(port: port)
        _ = try publisher.connect(Connect(clientIdentifier: "pub"))
        try publisher.send(.publish(Publish(topic: "x", payload: [42])))
        #expect(try subscriber.nextPublish().payload == [42])
        let status = process.stop()
        #expect(status & 0x7F == 0 && (status >> 8) & 0xFF == 0, "wait status \(status)")
        #expect(subscriber.waitUntilClosed())
    }

    @Test("kill -9: retained messages and a persistent session's acknowledged messages are there after a restart on the same --storage")
    func survivesKill() async throws {
        let folder = TemporaryFolder()
        let (first, port) = try await startBrokerProcess(["--storage", folder.path])
        let subscriber = try RawMQTTClient(port: port)
        _ = try subscriber.connect(Connect(clientIdentifier: "device", cleanSession: false))
        _ = try subscriber.subscribe([Subscription(filter: "cmd/#", qos: .atLeastOnce)])
        subscriber.close()
        let publisher = try RawMQTTClient(port: port)
        _ = try publisher.connect(Connect(clientIdentifier: "registry"))
        try publisher.send(.publish(Publish(topic: "state/oven1", payload: Array("online".utf8), qos: .atLeastOnce, retain: true, packetIdentifier: 1)))
        #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: 1))
        for index in 2...4 {
            try publisher.send(.publish(Publish(topic: "cmd/sp", payload: [UInt8(index)], qos: .atLeastOnce, packetIdentifier: UInt16(index))))
            #expect(try publisher.next() == .publishAcknowledgement(packetIdentifier: UInt16(index)))
        }
        // Acknowledged means written: kill -9 right after the last PUBACK.
        first.kill()

        let (second, newPort) = try await startBrokerProcess(["--storage", folder.path])
        defer { second.stop() }
        let device = try RawMQTTClient(port: newPort)
        #expect(try device.connect(Connect(clientIdentifier: "device", cleanSession: false)).sessionPresent)
        var payloads: [[UInt8]] = []
        for _ in 0..<3 {
            let message = try device.nextPublish()
            #expect(message.topic == "cmd/sp")
            payloads.append(message.payload)
            try device.send(.publishAcknowledgement(packetIdentifier: message.packetIdentifier ?? 0))
        }
        #expect(payloads == [[2], [3], [4]])
        let reader = try RawMQTTClient(port: newPort)
        _ = try reader.connect(Connect(clientIdentifier: "reader"))
        _ = try reader.subscribe([Subscription(filter: "state/+", qos: .atLeastOnce)])
        let state = try reader.nextPublish()
        #expect(state.topic == "state/oven1" && state.payload == Array("online".utf8) && state.retain)
    }
}
