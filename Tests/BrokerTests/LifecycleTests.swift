import Broker
import Glibc
import MQTT
import POSIX
import Synchronization
import TestSupport
import Testing

@Suite("Broker: start and stop (replay on the reactor thread, awaitable stop)")
struct LifecycleTests {
    @Test("await stop() returns with every connection closed and the broker refusing work; a second stop returns too")
    func awaitedStopClosesConnections() async throws {
        let broker = try startBroker()
        let clients = try (0..<3).map { try rawClient(broker, "client-\($0)") }
        let local = try await broker.connectLocal(ClientIdentity(clientID: "local", remoteAddress: "in-process"))

        await broker.stop()
        // The reactor marks itself stopped only after closing every connection, and resumes
        // the stop after that: an in-process publish is refused without waiting.
        await #expect(throws: BrokerError.notRunning) {
            try await local.publish(topic: "t", payload: [1])
        }
        for client in clients {
            // End of stream, no packet: the socket was closed (generous bound, not a speed test).
            #expect(client.waitUntilClosed(timeout: .seconds(10)))
        }
        #expect(!acceptsConnections(port: broker.port))
        await broker.stop()
        stopBlocking(broker)
    }

    @Test("The storage is replayed on the reactor thread, before start returns")
    func replayRunsOnTheReactorThread() async throws {
        let folder = TemporaryFolder()
        let first = try startBroker { $0.storageDirectory = folder.path }
        let publisher = try await first.connectLocal(ClientIdentity(clientID: "pub", remoteAddress: "in-process"))
        try await publisher.publish(topic: "kept", payload: Array("1"), retain: true)
        await first.stop()

        let threadsThatLoaded = Mutex<[String]>([])
        let second = try startBroker({ $0.storageDirectory = folder.path }, logger: Logger { record in
            guard record.event == "storage_loaded" else { return }
            let name = currentThreadName()
            threadsThatLoaded.withLock { $0.append(name) }
        })
        defer { second.stop() }
        #expect(threadsThatLoaded.withLock { $0 } == ["mqtt-broker"])
        let reader = try rawClient(second, "reader")
        _ = try reader.subscribe([Subscription(filter: "kept", qos: .atMostOnce)])
        let replay = try reader.nextPublish()
        #expect(replay.topic == "kept" && replay.payload == Array("1") && replay.retain)
    }

    @Test("A storage that cannot be opened fails start with the typed error, and frees the listener's port")
    func replayFailureReachesStart() throws {
        let folder = TemporaryFolder()
        let notAFolder = folder.path + "/file"
        let descriptor = open(notAFolder, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        close(descriptor)
        let port = freePort()
        let error = #expect(throws: BrokerError.self) {
            try Broker.start(BrokerConfiguration(host: "127.0.0.1", port: port, storageDirectory: notAFolder))
        }
        guard case let .storageFailed(path, _, _)? = error else {
            Issue.record("expected storageFailed, got \(String(describing: error))")
            return
        }
        #expect(path.hasPrefix(notAFolder))
        #expect(!acceptsConnections(port: port))
    }
}

/// The synchronous `stop()`, from a synchronous context (an async one picks `stop() async`).
private func stopBlocking(_ broker: Broker) { broker.stop() }

/// The calling thread's name, as /proc shows it.
private func currentThreadName() -> String {
    let descriptor = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return "" }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = read(descriptor, &buffer, buffer.count)
    guard count > 0 else { return "" }
    return String(decoding: buffer[..<count], as: UTF8.self).trimmingSuffix("\n")
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
