import Glibc
import MQTT
import MQTTClient
import POSIX
import TestSupport
import Testing

/// The socket client against a server scripted packet by packet: answers a real broker never
/// gives, to see the client's rules hold end to end.
@Suite("The modbridge MQTT client against a scripted server")
struct ClientScriptedServerTests {
    @Test("PUBCOMP before PUBREC: the QoS 2 publish fails with a protocol violation and the client closes")
    func completeBeforeReceived() async throws {
        // A port below the ephemeral range that no other test of the run is given: a port-0
        // listener may get a port some other test's client still reconnects to, and then the
        // script talks to that client (it once saw a foreign CONNECT and a non-QoS-2 packet).
        let listener = try Socket.listen(host: "127.0.0.1", port: freePort())
        defer { listener.close() }
        let port = listener.localPort
        // The server thread gets its own descriptor: Socket is not Sendable.
        let serverDescriptor = dup(listener.descriptor)
        try #require(serverDescriptor >= 0)
        // The server runs on a thread started here, before the client connects: a child task
        // would wait for a pool thread, and under a full parallel run both can be busy for longer
        // than the client waits for its CONNACK. For the same reason the script waits up to a
        // minute for each packet of the client (whose task resumes when the pool lets it).
        let outcome = ConditionLock<String??>(nil)
        let scriptThread = try DedicatedThread(name: "scripted-server") { outcome.withLock { $0 = .some(runScript()) } }
        @Sendable func runScript() -> String? {
            let listening = Socket(adopting: serverDescriptor)
            guard (try? listening.wait(for: Int16(POLLIN), timeout: .seconds(30))) == true,
                  let (socket, _) = try? listening.accept() else { return "the client did not connect" }
            let server = RawMQTTClient(accepted: socket)
            guard case .connect? = try? server.next(timeout: .seconds(60)) else { return "no CONNECT" }
            do {
                try server.send(.connectAcknowledgement(ConnectAcknowledgement(sessionPresent: false, returnCode: .accepted)))
                // Under a full parallel run the client's publish may wait long enough for its
                // keep-alive to send PINGREQ first: answered, as a broker would.
                var packet = try server.next(timeout: .seconds(60))
                while packet == .pingRequest {
                    try server.send(.pingResponse)
                    packet = try server.next(timeout: .seconds(60))
                }
                guard case let .publish(publish) = packet, publish.qos == .exactlyOnce,
                      let identifier = publish.packetIdentifier else { return "no QoS 2 PUBLISH but \(MQTTPacket.name(ofType: packet.packetType))" }
                try server.send(.publishComplete(packetIdentifier: identifier))
            } catch {
                return "script failed: \(error)"
            }
            return server.waitUntilClosed(timeout: .seconds(30)) ? nil : "the client kept the connection open"
        }
        let client = try await connect(port, "scripted")
        do {
            try await client.publish(topic: "t", payload: [1], qos: .exactlyOnce)
            Issue.record("the QoS 2 publish completed without PUBREC and PUBREL")
        } catch {
            #expect(error == .protocolViolation("PUBCOMP for packet 1, which waits for another answer"))
        }
        await client.close()
        scriptThread.join()
        #expect(outcome.withLock { $0 } == .some(nil))
    }
}
