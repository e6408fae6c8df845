import Glibc
import MQTT
import POSIX
import Synchronization

/// What the subscriber has received so far.
struct Reception: Sendable {
    /// Backlog messages received, repeats included.
    var backlogReceived = 0
    /// Distinct backlog messages (by their number).
    var distinct = 0
    var firstBacklog: ContinuousClock.Instant?
    var lastBacklog: ContinuousClock.Instant?
    /// When the live message arrived, and how many backlog messages were in before it.
    var live: ContinuousClock.Instant?
    var backlogBeforeLive = 0
    /// Every PUBLISH except `$SYS` ones.
    var total = 0
    /// The last value of each `$SYS` topic.
    var systemValues: [String: String] = [:]
    /// Why the subscriber stopped early (the connection ended, a bad packet).
    var failure: String?
}

/// A plain MQTT 3.1.1 subscriber on a thread of its own: it reads as fast as the broker sends,
/// counts the drain row's messages by their numbers and notes when they arrive (one clock
/// reading per `read`). Its own code is a decoder and a counter, so it does not limit either side.
final class BenchSubscriber {
    private let socket: Socket
    private let shared = SubscriberShared()
    private var thread: DedicatedThread?

    /// Connects, subscribes to `filters` and waits for the SUBACK before it returns.
    init(port: UInt16, clientID: String, username: String?, password: String?, filters: [Subscription], expectedBacklog: Int) throws {
        socket = try Socket.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
        var framer = MQTTFramer()
        let connect = Connect(clientIdentifier: clientID, cleanSession: true, keepAlive: 0, username: username,
                              password: password.map { Array($0.utf8) })
        try socket.writeAll(MQTTPacket.connect(connect).encoded())
        guard case let .connectAcknowledgement(acknowledgement) = try Self.next(socket, &framer),
              acknowledgement.returnCode == .accepted else {
            throw BenchError("the subscriber's CONNECT on port \(port) was refused")
        }
        try socket.writeAll(MQTTPacket.subscribe(Subscribe(packetIdentifier: 1, subscriptions: filters)).encoded())
        guard case let .subscribeAcknowledgement(subscribed) = try Self.next(socket, &framer),
              !subscribed.returnCodes.contains(.failure) else {
            throw BenchError("the subscriber's SUBSCRIBE on port \(port) was refused")
        }
        let reader = Reader(socket: socket, framer: framer, expectedBacklog: expectedBacklog)
        let shared = self.shared
        thread = try DedicatedThread(name: "bench-sub") { reader.run(shared) }
    }

    deinit { stop() }

    var reception: Reception { shared.state.withLock { $0 } }

    /// Polls every millisecond until `condition` holds; nil after `timeout` or if the subscriber failed.
    func wait(timeout: Duration, until condition: (Reception) -> Bool) -> Reception? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            let now = reception
            if condition(now) { return now }
            if now.failure != nil { return nil }
            usleep(1000)
        }
        return nil
    }

    func stop() {
        shared.stopping.store(true, ordering: .relaxed)
        thread?.join()
        thread = nil
        socket.close()
    }

    /// The next packet during the handshake (at most 10 s).
    private static func next(_ socket: Socket, _ framer: inout MQTTFramer) throws -> MQTTPacket {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while true {
            if let packet = try framer.next() { return packet }
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero, try socket.wait(for: Int16(POLLIN), timeout: left) else { throw BenchError("no answer from the broker") }
            guard let count = try buffer.withUnsafeMutableBytes({ try socket.read(into: $0) }) else { continue }
            guard count > 0 else { throw BenchError("the broker closed the subscriber's connection") }
            framer.append(buffer[0..<count])
        }
    }
}

/// What the subscriber thread shares with the bench.
private final class SubscriberShared: Sendable {
    let state = Mutex(Reception())
    let stopping = Atomic(false)
}

/// The subscriber thread's own state.
private final class Reader: @unchecked Sendable {
    let socket: Socket
    var framer: MQTTFramer
    var seen: [Bool]

    init(socket: Socket, framer: MQTTFramer, expectedBacklog: Int) {
        self.socket = socket
        self.framer = framer
        seen = [Bool](repeating: false, count: max(1, expectedBacklog))
    }

    func run(_ shared: SubscriberShared) {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var local = Reception()
        while !shared.stopping.load(ordering: .relaxed) {
            do {
                guard try socket.wait(for: Int16(POLLIN), timeout: .milliseconds(50)) else { continue }
                guard let count = try buffer.withUnsafeMutableBytes({ try socket.read(into: $0) }) else { continue }
                guard count > 0 else {
                    local.failure = "the broker closed the subscriber's connection"
                    shared.state.withLock { $0 = local }
                    return
                }
                let now = ContinuousClock.now
                framer.append(buffer[0..<count])
                var acknowledgements: [UInt8] = []
                while let packet = try framer.next() {
                    guard case let .publish(publish) = packet else { continue }
                    if let identifier = publish.packetIdentifier {
                        acknowledgements += [0x40, 0x02, UInt8(identifier >> 8), UInt8(identifier & 0xFF)]
                    }
                    tally(publish, at: now, into: &local)
                }
                if !acknowledgements.isEmpty { try socket.writeAll(acknowledgements) }
                shared.state.withLock { $0 = local }
            } catch {
                local.failure = "subscriber: \(error)"
                shared.state.withLock { $0 = local }
                return
            }
        }
    }

    private func tally(_ publish: Publish, at now: ContinuousClock.Instant, into local: inout Reception) {
        if publish.topic.hasPrefix("$SYS/") {
            local.systemValues[publish.topic] = String(decoding: publish.payload, as: UTF8.self)
            return
        }
        local.total += 1
        switch BenchMessages.kind(of: publish.payload) {
        case let .backlog(index):
            local.backlogReceived += 1
            if local.firstBacklog == nil { local.firstBacklog = now }
            local.lastBacklog = now
            if index < seen.count, !seen[index] {
                seen[index] = true
                local.distinct += 1
            }
        case .live:
            if local.live == nil {
                local.live = now
                local.backlogBeforeLive = local.backlogReceived
            }
        case .other:
            break
        }
    }
}
