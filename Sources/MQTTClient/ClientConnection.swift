import Glibc
import MQTT
import POSIX
import Synchronization

/// The socket side of one client connection: its thread connects, reads, writes and keeps
/// time, and feeds all of it to a `ClientConnectionStateMachine`, which holds the protocol.
/// Callers hand it commands through a queue and wait for their completion.
final class ClientConnection: Sendable {
    private typealias Machine = ClientConnectionStateMachine<ContinuousClock>

    private struct State {
        var queued: [(ClientCommandID, ClientCommand)] = []
        var waiters: [ClientCommandID: CheckedContinuation<ClientCommandResult, Never>] = [:]
        var nextCommand: ClientCommandID = 0
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

    /// Queues a command for the connection thread and waits until the machine completes it.
    func perform(_ command: ClientCommand) async -> ClientCommandResult {
        await withCheckedContinuation { (continuation: CheckedContinuation<ClientCommandResult, Never>) in
            let failure = state.withLock { state -> MQTTError? in
                if let ended = state.ended { return ended }
                if state.stopping != nil { return .connectionClosed("the client is disconnecting") }
                let id = state.nextCommand
                state.nextCommand += 1
                state.queued.append((id, command))
                state.waiters[id] = continuation
                return nil
            }
            if let failure {
                continuation.resume(returning: .failed(failure))
            } else {
                wakeup.signal()
            }
        }
    }

    /// Ends the connection (after sending DISCONNECT if graceful) and waits for the thread.
    func stop(graceful: Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyEnded = state.withLock { state -> Bool in
                if state.ended != nil { return true }
                if state.stopping == nil { state.stopping = graceful }
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
        var machine = Machine(connect: configuration.connect, connectTimeout: configuration.connectTimeout, peer: target)
        var pending: [UInt8] = []
        var tickAt: ContinuousClock.Instant?
        var connectedReported = false
        var closing: (reason: MQTTError, flushingWrites: Bool)?
        var readBuffer = [UInt8](repeating: 0, count: 65_536)

        func carryOut(_ actions: [Machine.Action]) {
            for action in actions {
                switch action {
                case let .write(bytes):
                    pending += bytes
                case let .connectionAccepted(sessionPresent):
                    connectedReported = true
                    connected(.success(sessionPresent))
                case let .deliver(publish):
                    sink.yield(publish)
                case let .complete(id, result):
                    state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: result)
                case let .scheduleTick(instant):
                    tickAt = instant
                case let .closeTransport(reason, flushingWrites):
                    closing = (reason, flushingWrites)
                }
            }
        }
        /// The transport failed under the machine: it fails what is in flight and gives the reason.
        func lost(_ detail: String) -> MQTTError {
            carryOut(machine.transportClosed(detail, at: clock.now))
            return machine.ended ?? .connectionClosed(detail)
        }

        carryOut(machine.transportConnected(at: clock.now))
        var ending: MQTTError
        loop: while true {
            if closing == nil {
                // Take what callers queued.
                let (queued, stopping) = state.withLock { state -> ([(ClientCommandID, ClientCommand)], Bool?) in
                    defer { state.queued.removeAll(keepingCapacity: true) }
                    return (state.queued, state.stopping)
                }
                for (id, command) in queued { carryOut(machine.command(id, command, at: clock.now)) }
                if stopping == true { carryOut(machine.disconnect(at: clock.now)) }
                if stopping == false { carryOut(machine.abort(at: clock.now)) }
            }
            if closing == nil, let due = tickAt, clock.now >= due {
                tickAt = nil
                carryOut(machine.tick(at: clock.now))
            }
            if let closing, !closing.flushingWrites {
                ending = closing.reason
                break loop
            }

            // Write what the socket takes.
            while !pending.isEmpty {
                let written: Int
                do {
                    written = try pending.withUnsafeBytes { buffer throws(Errno) in try socket.write(buffer) }
                } catch {
                    ending = closing?.reason ?? lost("write to \(target) failed: \(error)")
                    break loop
                }
                if written == 0 { break }
                pending.removeFirst(written)
            }
            if let closing, pending.isEmpty {
                ending = closing.reason
                break loop
            }

            var waiting = [
                pollfd(fd: socket.descriptor, events: Int16(POLLIN) | (pending.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                pollfd(fd: wakeup.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            let timeout = tickAt.map { clock.now.duration(to: $0) } ?? .seconds(1)
            _ = poll(&waiting, 2, Int32(clamping: max(1, min(timeout, .seconds(1)).milliseconds)))
            if waiting[1].revents != 0 { wakeup.drain() }
            guard waiting[0].revents != 0 else { continue }

            let received: Int?
            do {
                received = try readBuffer.withUnsafeMutableBytes { buffer throws(Errno) in try socket.read(into: buffer) }
            } catch {
                ending = closing?.reason ?? lost("read from \(target) failed: \(error)")
                break loop
            }
            guard let received else { continue }
            if received == 0 {
                ending = closing?.reason ?? lost("\(target) closed the connection")
                break loop
            }
            if closing == nil { carryOut(machine.received(readBuffer[..<received], at: clock.now)) }
        }
        socket.close()
        if !connectedReported { connected(.failure(ending)) }
        finish(ending)
    }

    /// Marks the connection ended and releases everyone waiting on it.
    private func finish(_ error: MQTTError) {
        let (waiters, whenEnded) = state.withLock { state in
            state.ended = error
            defer {
                state.waiters = [:]
                state.queued = []
                state.whenEnded = []
            }
            return (Array(state.waiters.values), state.whenEnded)
        }
        for waiter in waiters { waiter.resume(returning: .failed(error)) }
        sink.finish()
        for continuation in whenEnded { continuation.resume() }
    }
}
