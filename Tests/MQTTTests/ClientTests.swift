import MQTT
import MQTTClient
import Synchronization
import TestSupport
import Testing

@Suite("The modbridge MQTT client against a Mosquitto broker started by the test", .serialized)
struct ClientTests {
    @Test("QoS 0, 1 and 2: published, delivered at the lower of the two QoS, in order")
    func qualityOfService() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let subscriber = try await connect(broker.port, "sub")
        let inbox = Inbox(subscriber)
        #expect(try await subscriber.subscribe([Subscription(filter: "plant/#", qos: .exactlyOnce),
                                                Subscription(filter: "other/+", qos: .atLeastOnce)])
                == [.granted(.exactlyOnce), .granted(.atLeastOnce)])
        let publisher = try await connect(broker.port, "pub")
        for qos in QoS.allCases {
            try await publisher.publish(topic: "plant/oven1/qos\(qos.rawValue)", payload: Array("m\(qos.rawValue)".utf8), qos: qos)
        }
        try await publisher.publish(topic: "other/x", payload: [1], qos: .exactlyOnce)
        let messages = await inbox.wait(for: 4)
        #expect(messages.map(\.topic) == ["plant/oven1/qos0", "plant/oven1/qos1", "plant/oven1/qos2", "other/x"])
        #expect(messages.map(\.payload) == [Array("m0".utf8), Array("m1".utf8), Array("m2".utf8), [1]])
        #expect(messages.map(\.qos) == [.atMostOnce, .atLeastOnce, .exactlyOnce, .atLeastOnce])
        try await subscriber.unsubscribe(["plant/#"])
        try await publisher.publish(topic: "plant/after", payload: [], qos: .atLeastOnce)
        try await publisher.publish(topic: "other/y", payload: [2], qos: .atLeastOnce)
        let later = await inbox.wait(for: 5)
        #expect(later.last?.topic == "other/y")
        #expect(later.count == 5)
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    @Test("A retained message reaches a later subscriber with the retain flag")
    func retained() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let publisher = try await connect(broker.port, "pub")
        try await publisher.publish(topic: "state/oven1", payload: Array("on".utf8), qos: .atLeastOnce, retain: true)
        let subscriber = try await connect(broker.port, "late")
        let inbox = Inbox(subscriber)
        _ = try await subscriber.subscribe([Subscription(filter: "state/+", qos: .atLeastOnce)])
        let messages = await inbox.wait(for: 1)
        #expect(messages.first?.retain == true)
        #expect(messages.first?.payload == Array("on".utf8))
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    @Test("The will is published after an abrupt close, not after DISCONNECT")
    func will() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let watcher = try await connect(broker.port, "watcher")
        let inbox = Inbox(watcher)
        _ = try await watcher.subscribe([Subscription(filter: "wills/#", qos: .atLeastOnce)])

        let polite = try await connect(broker.port, "polite", will: Will(topic: "wills/polite", payload: [0], qos: .atLeastOnce))
        await polite.disconnect()
        let crashing = try await connect(broker.port, "crashing", will: Will(topic: "wills/crashing", payload: Array("gone".utf8), qos: .atLeastOnce))
        await crashing.close()

        let messages = await inbox.wait(for: 1)
        #expect(messages.map(\.topic) == ["wills/crashing"])
        #expect(messages.first?.payload == Array("gone".utf8))
        await watcher.disconnect()
    }

    @Test("A persistent session keeps its subscription and queues QoS 1 while offline")
    func persistentSession() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let first = try await connect(broker.port, "keeper", clean: false)
        #expect(!first.sessionPresent)
        _ = try await first.subscribe([Subscription(filter: "queue/#", qos: .atLeastOnce)])
        await first.disconnect()

        let publisher = try await connect(broker.port, "pub")
        try await publisher.publish(topic: "queue/a", payload: [7], qos: .atLeastOnce)
        await publisher.disconnect()

        let again = try await connect(broker.port, "keeper", clean: false)
        #expect(again.sessionPresent)
        let inbox = Inbox(again)
        let messages = await inbox.wait(for: 1)
        #expect(messages.first?.topic == "queue/a")
        #expect(messages.first?.payload == [7])
        await again.disconnect()
    }

    @Test("Keep-alive: an idle connection pings and stays usable")
    func keepAlive() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let client = try await connect(broker.port, "idle", keepAlive: 1)
        let inbox = Inbox(client)
        _ = try await client.subscribe([Subscription(filter: "ping/test", qos: .atMostOnce)])
        // Idle past two keep-alive periods: without PINGREQ the broker would close at 1.5 s.
        try await Task.sleep(for: .milliseconds(2500))
        try await client.publish(topic: "ping/test", payload: [1], qos: .atLeastOnce)
        #expect(await inbox.wait(for: 1).count == 1)
        await client.disconnect()
    }

    @Test("Errors: nothing listening, and publishing after the connection ended")
    func errors() async throws {
        let port = freePort()
        do {
            _ = try await connect(port, "nobody")
            Issue.record("connected to a closed port")
        } catch {
            guard case let .connectionFailed(detail) = error else { Issue.record("unexpected \(error)"); return }
            #expect(detail.contains("ECONNREFUSED"))
        }
        let broker = try MosquittoBroker()
        let client = try await connect(broker.port, "orphan")
        broker.stop()
        // Once the client has seen the broker go, every call fails with the reason.
        var failure: MQTTError?
        for _ in 0..<500 where failure == nil {
            do {
                try await client.publish(topic: "x", payload: [], qos: .atMostOnce)
                try? await Task.sleep(for: .milliseconds(10))
            } catch {
                failure = error
            }
        }
        guard case .connectionClosed? = failure else {
            Issue.record("expected connectionClosed, got \(String(describing: failure))")
            return
        }
        await client.close()
    }
}
