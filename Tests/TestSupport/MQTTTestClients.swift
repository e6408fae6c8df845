import Glibc
import MQTT
import MQTTClient
import POSIX
import Synchronization

/// Collects what a client receives, so that tests can wait for it with a bound.
package final class Inbox: Sendable {
    private final class Storage: Sendable {
        let messages = Mutex<[Publish]>([])
    }

    private let storage = Storage()
    private let task: Task<Void, Never>

    package init(_ messages: AsyncStream<Publish>) {
        let storage = self.storage
        task = Task {
            for await message in messages { storage.messages.withLock { $0.append(message) } }
        }
    }

    package convenience init(_ client: MQTTClient) {
        self.init(client.messages)
    }

    package var messages: [Publish] { storage.messages.withLock { $0 } }

    /// Waits (bounded) until `count` messages have arrived; returns them.
    package func wait(for count: Int) async -> [Publish] {
        _ = await eventually { self.messages.count >= count }
        return messages
    }
}

/// Connects the modbridge client to 127.0.0.1:`port`.
package func connect(_ port: UInt16, _ id: String, clean: Bool = true, keepAlive: UInt16 = 30, will: Will? = nil) async throws(MQTTError) -> MQTTClient {
    try await MQTTClient.connect(MQTTClientConfiguration(port: port, connect: Connect(clientIdentifier: id, cleanSession: clean, keepAlive: keepAlive, will: will)))
}

/// Why a raw client stopped waiting.
package enum RawClientError: Error, Equatable {
    case timedOut
    case closed
    case failed(String)
}

/// An MQTT client that does only what the test says, packet by packet: no automatic
/// acknowledgements, no keep-alive. Blocking, with a bound on every wait.
package final class RawMQTTClient {
    package let socket: Socket
    private var framer = MQTTFramer()
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    package init(host: String = "127.0.0.1", port: UInt16) throws {
        socket = try Socket.connect(host: host, port: port, timeout: .seconds(10))
    }

    /// The server's end of a connection a test accepted, for a server scripted packet by packet.
    package init(accepted socket: Socket) {
        self.socket = socket
    }

    /// Shrinks the kernel's receive buffer, so that a client that does not read fills up soon.
    package func shrinkReceiveBuffer(to bytes: Int32) {
        var size = bytes
        _ = setsockopt(socket.descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    package func send(_ packet: MQTTPacket) throws {
        try send(bytes: packet.encoded())
    }

    package func send(bytes: [UInt8]) throws {
        try socket.writeAll(bytes)
    }

    /// The next packet from the server.
    package func next(timeout: Duration = .seconds(10)) throws(RawClientError) -> MQTTPacket {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            do {
                if let packet = try framer.next() { return packet }
            } catch {
                throw .failed("undecodable packet from the server: \(error)")
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { throw .timedOut }
            do {
                guard try socket.wait(for: Int16(POLLIN), timeout: remaining) else { throw RawClientError.timedOut }
                let count = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
                guard let count else { continue }
                if count == 0 { throw RawClientError.closed }
                framer.append(buffer[0..<count])
            } catch let error as RawClientError {
                throw error
            } catch let error as Errno where error.rawValue == ECONNRESET {
                throw .closed
            } catch {
                throw .failed("\(error)")
            }
        }
    }

    /// True if nothing arrives within `timeout` (the connection stays quiet and open).
    package func staysQuiet(for timeout: Duration) -> Bool {
        do {
            _ = try next(timeout: timeout)
            return false
        } catch {
            return error == .timedOut
        }
    }

    /// Reads and discards until the server closes the connection; false if it is still open
    /// after `timeout`.
    package func waitUntilClosed(timeout: Duration = .seconds(10)) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            do {
                _ = try next(timeout: ContinuousClock.now.duration(to: deadline))
            } catch {
                return error != .timedOut
            }
        }
    }

    /// CONNECT and the CONNACK that answers it.
    package func connect(_ connect: Connect) throws -> ConnectAcknowledgement {
        try send(.connect(connect))
        guard case let .connectAcknowledgement(acknowledgement) = try next() else {
            throw RawClientError.failed("the answer to CONNECT is not CONNACK")
        }
        return acknowledgement
    }

    /// SUBSCRIBE and the SUBACK codes.
    package func subscribe(_ subscriptions: [Subscription], identifier: UInt16 = 1) throws -> [SubscribeReturnCode] {
        try send(.subscribe(Subscribe(packetIdentifier: identifier, subscriptions: subscriptions)))
        guard case let .subscribeAcknowledgement(acknowledgement) = try next(), acknowledgement.packetIdentifier == identifier else {
            throw RawClientError.failed("the answer to SUBSCRIBE is not its SUBACK")
        }
        return acknowledgement.returnCodes
    }

    /// The next PUBLISH (fails on any other packet).
    package func nextPublish(timeout: Duration = .seconds(10)) throws -> Publish {
        let packet = try next(timeout: timeout)
        guard case let .publish(publish) = packet else {
            throw RawClientError.failed("expected PUBLISH, got \(MQTTPacket.name(ofType: packet.packetType))")
        }
        return publish
    }

    package func close() { socket.close() }
}
