import Glibc
import MQTT
import POSIX
import Synchronization

/// The state of one client connection, shared between the callers and the connection thread.
final class ClientConnection: Sendable {
    typealias Acknowledgement = Result<MQTTPacket?, MQTTError>

    private struct State {
        var outbox: [UInt8] = []
        var waiters: [UInt16: CheckedContinuation<Acknowledgement, Never>] = [:]
        var nextIdentifier: UInt16 = 1
        var stopping: Bool?  // nil: running; true: graceful; false: abrupt
        var ended: MQTTError?
        var whenEnded: [CheckedContinuation<Void, Never>] = []
    }

    let configuration: MQTTClientConfiguration
    private let state = Mutex(State())
    private let wakeup: Wakeup
    private let sink: AsyncStream<Publish>.Continuation
    private let thread = Mutex<DedicatedThread?>(nil)

    init(configuration: MQTTClientConfiguration, sink: AsyncStream<Publish>.Continuation) throws(MQTTError) {
        self.configuration = configuration
        self.sink = sink
        do {
            wakeup = try Wakeup()
        } catch {
            throw .connectionFailed("cannot create a wake-up eventfd: \(error)")
        }
    }

    /// Starts the connection thread; `connected` gets the CONNACK's session-present flag or the error.
    func start(connected: @escaping @Sendable (Result<Bool, MQTTError>) -> Void) {
        do {
            let started = try DedicatedThread(name: "mqtt-client") { [self] in run(connected: connected) }
            thread.withLock { $0 = started }
        } catch {
            connected(.failure(.connectionFailed("cannot start the connection thread: \(error)")))
        }
    }

    /// Queues a packet; with `awaitingAcknowledgement`, waits for the packet that completes its flow.
    func send(awaitingAcknowledgement: Bool, _ make: (UInt16) -> MQTTPacket) async throws(MQTTError) -> MQTTPacket? {
        let identifier = state.withLock { state -> UInt16 in
            // Skip identifiers still waiting for their acknowledgement.
            while state.waiters[state.nextIdentifier] != nil || state.nextIdentifier == 0 {
                state.nextIdentifier &+= 1
            }
            defer { state.nextIdentifier &+= 1 }
            return state.nextIdentifier
        }
        let bytes = try make(identifier).encoded()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Acknowledgement, Never>) in
            let failure = state.withLock { state -> MQTTError? in
                if let ended = state.ended { return ended }
                if state.stopping != nil { return .connectionClosed("the client is disconnecting") }
                state.outbox.append(contentsOf: bytes)
                if awaitingAcknowledgement { state.waiters[identifier] = continuation }
                return nil
            }
            if let failure {
                continuation.resume(returning: .failure(failure))
            } else {
                wakeup.signal()
                if !awaitingAcknowledgement { continuation.resume(returning: .success(nil)) }
            }
        }
        return try result.get()
    }

    /// Ends the connection (after sending DISCONNECT if graceful) and waits for the thread.
    func stop(graceful: Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyEnded = state.withLock { state -> Bool in
                if state.ended != nil { return true }
                if state.stopping == nil {
                    state.stopping = graceful
                    if graceful, let bytes = try? MQTTPacket.disconnect.encoded() { state.outbox.append(contentsOf: bytes) }
                }
                state.whenEnded.append(continuation)
                return false
            }
            if alreadyEnded { continuation.resume() } else { wakeup.signal() }
        }
        thread.withLock { $0 }?.join()
    }

    // MARK: - The connection thread

    private func run(connected: @Sendable (Result<Bool, MQTTError>) -> Void) {
        let clock = ContinuousClock()
        let target = "\(configuration.host):\(configuration.port)"
        let socket: Socket
        do {
            socket = try Socket.connect(host: configuration.host, port: configuration.port, timeout: configuration.connectTimeout)
        } catch {
            let failure = MQTTError.connectionFailed("\(target): \(error)")
            finish(failure)
            connected(.failure(failure))
            return
        }
        var framer = MQTTFramer()
        var awaitingConnectAcknowledgement = true
        let connectDeadline = clock.now.advanced(by: configuration.connectTimeout)
        let keepAlive = Duration.seconds(Int64(configuration.connect.keepAlive))
        var lastSent = clock.now
        var pingSentAt: ContinuousClock.Instant?
        var receivedQoS2: Set<UInt16> = []
        var pending: [UInt8] = []
        var connectedReported = false
        do {
            pending = try MQTTPacket.connect(configuration.connect).encoded()
        } catch {
            finish(error)
            connected(.failure(error))
            return
        }

        func fail(_ error: MQTTError) -> MQTTError {
            if !connectedReported { connected(.failure(error)); connectedReported = true }
            return error
        }

        var ending: MQTTError
        loop: while true {
            // Take what callers queued.
            let (queued, stopping) = state.withLock { state -> ([UInt8], Bool?) in
                defer { state.outbox.removeAll(keepingCapacity: true) }
                return (state.outbox, state.stopping)
            }
            pending += queued
            if stopping == false {
                ending = fail(.connectionClosed("closed by the client"))
                break loop
            }

            // Write what the socket takes.
            while !pending.isEmpty {
                let written: Int
                do {
                    written = try pending.withUnsafeBytes { buffer throws(Errno) in try socket.write(buffer) }
                } catch {
                    ending = fail(.connectionClosed("write to \(target) failed: \(error)"))
                    break loop
                }
                if written == 0 { break }
                pending.removeFirst(written)
                lastSent = clock.now
            }
            if stopping == true && pending.isEmpty {
                ending = fail(.connectionClosed("disconnected by the client"))
                break loop
            }

            // Keep-alive (3.1.2.10): a PINGREQ when idle, and the answer within the interval.
            if !awaitingConnectAcknowledgement && keepAlive > .zero {
                if let pingSentAt, pingSentAt.duration(to: clock.now) > keepAlive {
                    ending = fail(.timedOut("no PINGRESP from \(target) within the keep-alive"))
                    break loop
                }
                if pingSentAt == nil && lastSent.duration(to: clock.now) >= keepAlive {
                    pending += (try? MQTTPacket.pingRequest.encoded()) ?? []
                    pingSentAt = clock.now
                    continue
                }
            }
            if awaitingConnectAcknowledgement && clock.now >= connectDeadline {
                ending = fail(.timedOut("no CONNACK from \(target)"))
                break loop
            }

            var waiting = [
                pollfd(fd: socket.descriptor, events: Int16(POLLIN) | (pending.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                pollfd(fd: wakeup.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            let timeout = awaitingConnectAcknowledgement ? clock.now.duration(to: connectDeadline)
                : keepAlive > .zero ? min(keepAlive, .seconds(1)) : .seconds(1)
            _ = poll(&waiting, 2, Int32(clamping: max(1, timeout.milliseconds)))
            if waiting[1].revents != 0 { wakeup.drain() }
            guard waiting[0].revents != 0 else { continue }

            let received: (count: Int, filledSpace: Bool)?
            do {
                received = try framer.read { space throws(Errno) in try socket.read(into: space) }
            } catch {
                ending = fail(.connectionClosed("read from \(target) failed: \(error)"))
                break loop
            }
            guard let received else { continue }
            if received.count == 0 {
                ending = fail(.connectionClosed("\(target) closed the connection"))
                break loop
            }
            do {
                while let packet = try framer.next() {
                    switch packet {
                    case let .connectAcknowledgement(acknowledgement) where awaitingConnectAcknowledgement:
                        guard acknowledgement.returnCode == .accepted else {
                            ending = fail(.connectionRefused(acknowledgement.returnCode))
                            break loop
                        }
                        awaitingConnectAcknowledgement = false
                        connectedReported = true
                        connected(.success(acknowledgement.sessionPresent))
                    case _ where awaitingConnectAcknowledgement:
                        ending = fail(.protocolViolation("\(MQTTPacket.name(ofType: packet.packetType)) before CONNACK"))
                        break loop
                    case let .publish(publish):
                        switch publish.qos {
                        case .atMostOnce:
                            sink.yield(publish)
                        case .atLeastOnce:
                            sink.yield(publish)
                            pending += try MQTTPacket.publishAcknowledgement(packetIdentifier: publish.packetIdentifier ?? 0).encoded()
                        case .exactlyOnce:
                            let identifier = publish.packetIdentifier ?? 0
                            if receivedQoS2.insert(identifier).inserted { sink.yield(publish) }
                            pending += try MQTTPacket.publishReceived(packetIdentifier: identifier).encoded()
                        }
                    case let .publishRelease(identifier):
                        receivedQoS2.remove(identifier)
                        pending += try MQTTPacket.publishComplete(packetIdentifier: identifier).encoded()
                    case let .publishReceived(identifier):
                        pending += try MQTTPacket.publishRelease(packetIdentifier: identifier).encoded()
                    case let .publishAcknowledgement(identifier), let .publishComplete(identifier),
                         let .unsubscribeAcknowledgement(identifier):
                        complete(identifier, with: packet)
                    case let .subscribeAcknowledgement(acknowledgement):
                        complete(acknowledgement.packetIdentifier, with: packet)
                    case .pingResponse:
                        pingSentAt = nil
                    default:
                        ending = fail(.protocolViolation("a server does not send \(MQTTPacket.name(ofType: packet.packetType))"))
                        break loop
                    }
                }
            } catch {
                ending = fail(error)
                break loop
            }
        }
        socket.close()
        finish(ending)
    }

    private func complete(_ identifier: UInt16, with packet: MQTTPacket) {
        state.withLock { $0.waiters.removeValue(forKey: identifier) }?.resume(returning: .success(packet))
    }

    /// Marks the connection ended and releases everyone waiting on it.
    private func finish(_ error: MQTTError) {
        let (waiters, whenEnded) = state.withLock { state in
            state.ended = error
            defer {
                state.waiters = [:]
                state.whenEnded = []
            }
            return (Array(state.waiters.values), state.whenEnded)
        }
        for waiter in waiters { waiter.resume(returning: .failure(error)) }
        sink.finish()
        for continuation in whenEnded { continuation.resume() }
    }
}
