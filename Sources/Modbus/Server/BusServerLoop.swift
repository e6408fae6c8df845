import Glibc
import POSIX
import Synchronization

/// The bus server's thread: accepts clients, reads their frames, refuses or passes each request
/// to the bus, and writes the answers back in order. Confined to that thread once started
/// (which makes the unchecked Sendable sound); other threads reach it through `mailbox`.
final class BusServerLoop: @unchecked Sendable {
    enum Message: Sendable {
        /// The answer PDU to request `sequence` of client `client`, from the bus thread.
        case answered(client: Int, sequence: Int, pdu: [UInt8])
        case stop
    }

    private let configuration: BusServerConfiguration
    private let listener: Socket
    private let bus: Bus
    private let mailbox: LoopMailbox<Message>
    private let counters: BusServerCounters
    private let events: @Sendable (BusServerEvent) -> Void
    private let clock = ContinuousClock()
    private var clients: [Int: BusServerClient] = [:]
    private var nextClientID = 0
    private var readBuffer = [UInt8](repeating: 0, count: 4096)
    private var refusedRequests = ReportThrottle()
    private var refusedConnections = ReportThrottle()
    /// A client whose answers pile up this much (it does not read them) is read no more until they go.
    private static let outputLimit = 65_536

    init(configuration: BusServerConfiguration, listener: Socket, bus: Bus, mailbox: LoopMailbox<Message>,
         counters: BusServerCounters, events: @escaping @Sendable (BusServerEvent) -> Void) {
        self.configuration = configuration
        self.listener = listener
        self.bus = bus
        self.mailbox = mailbox
        self.counters = counters
        self.events = events
    }

    func run() {
        var stopping = false
        while !stopping {
            let order = clients.keys.sorted()
            var waiting = [pollfd(fd: mailbox.wakeup.descriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)]
            for id in order {
                guard let client = clients[id] else { continue }
                var wanted: Int16 = 0
                if mayRead(client) { wanted |= Int16(POLLIN) }
                if !client.output.isEmpty { wanted |= Int16(POLLOUT) }
                waiting.append(pollfd(fd: client.socket.descriptor, events: wanted, revents: 0))
            }
            let timeout = Int32(clamping: min(configuration.idleTimeout, .seconds(1)).milliseconds)
            _ = try? checkedSyscall { poll(&waiting, nfds_t(waiting.count), max(timeout, 1)) }

            if waiting[0].revents != 0 {
                mailbox.wakeup.drain()
                for message in mailbox.take() {
                    switch message {
                    case let .answered(id, sequence, pdu):
                        guard let client = clients[id] else { continue }  // gone meanwhile: the answer is dropped
                        client.answer(sequence, pdu: pdu)
                        takeFrames(of: client)
                        if clients[id] != nil { write(client) }  // a frame taken may have been garbage
                    case .stop:
                        stopping = true
                    }
                }
            }
            if stopping { break }
            if waiting[1].revents & Int16(POLLIN) != 0 { acceptClients() }
            for (index, id) in order.enumerated() {
                guard let client = clients[id] else { continue }
                let revents = waiting[index + 2].revents
                if revents & Int16(POLLOUT) != 0 { write(client) }
                if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0, clients[id] != nil { read(client) }
            }
            closeIdleClients()
        }
        for client in clients.values { disconnect(client, reason: "server stopped") }
        listener.close()
        mailbox.markStopped { _ in }
    }

    private func mayRead(_ client: BusServerClient) -> Bool {
        client.inFlight < configuration.maximumRequestsInFlight && client.output.pendingCount < Self.outputLimit
    }

    // MARK: - Clients

    private func acceptClients() {
        while true {
            let accepted: (Socket, String)?
            do { accepted = try listener.accept() } catch { return }
            guard let (socket, peer) = accepted else { return }
            if clients.count >= configuration.maximumConnections {
                socket.abort()
                counters.withLock { $0.refusedConnections += 1 }
                if let count = refusedConnections.report(now: clock.now) { events(.clientRefused(client: peer, count: count)) }
                continue
            }
            let client = BusServerClient(id: nextClientID, socket: socket, peer: peer, now: clock.now)
            nextClientID += 1
            clients[client.id] = client
            let connections = clients.count
            counters.withLock {
                $0.accepted += 1
                $0.connections = connections
            }
            events(.clientConnected(client: peer, connections: connections))
        }
    }

    private func disconnect(_ client: BusServerClient, reason: String) {
        client.socket.close()
        clients.removeValue(forKey: client.id)
        let connections = clients.count
        counters.withLock { $0.connections = connections }
        events(.clientDisconnected(client: client.peer, reason: reason))
    }

    private func closeIdleClients() {
        let now = clock.now
        for client in Array(clients.values) where client.inFlight == 0 && client.output.isEmpty
            && client.lastActivity.duration(to: now) >= configuration.idleTimeout {
            counters.withLock { $0.idleDisconnects += 1 }
            disconnect(client, reason: "idle")
        }
    }

    private func read(_ client: BusServerClient) {
        let count: Int?
        do {
            count = try readBuffer.withUnsafeMutableBytes { buffer throws(Errno) in try client.socket.read(into: buffer) }
        } catch {
            disconnect(client, reason: "I/O error: \(error)")
            return
        }
        guard let count else { return }  // nothing there after all
        guard count > 0 else {
            disconnect(client, reason: "closed by the client")
            return
        }
        client.lastActivity = clock.now
        client.framer.append(readBuffer[0..<count])
        takeFrames(of: client)
        if clients[client.id] != nil { write(client) }
    }

    private func write(_ client: BusServerClient) {
        guard !client.output.isEmpty else { return }
        do {
            _ = try client.flush()
            client.lastActivity = clock.now
        } catch {
            disconnect(client, reason: "I/O error: \(error)")
        }
    }

    // MARK: - Requests

    /// Handles the whole frames the client sent, as long as it may have more requests in flight.
    private func takeFrames(of client: BusServerClient) {
        while mayRead(client) {
            let frame: MBAPFrame?
            do {
                frame = try client.framer.next()
            } catch {
                counters.withLock { $0.garbageDisconnects += 1 }
                disconnect(client, reason: error.reason)
                return
            }
            guard let frame else { return }
            handle(frame, from: client)
        }
    }

    /// Refuses the request (allow-lists, a malformed PDU) or passes it to the bus.
    private func handle(_ frame: MBAPFrame, from client: BusServerClient) {
        counters.withLock { $0.requests += 1 }
        let sequence = client.enqueue(frame)
        let function = frame.pdu.first ?? 0
        let request: ModbusRequest
        if !configuration.units.contains(frame.unit) {
            return refuse(frame, sequence: sequence, client: client, .gatewayPathUnavailable)
        }
        if !configuration.functions.contains(function) {
            return refuse(frame, sequence: sequence, client: client, .illegalFunction)
        }
        switch ModbusPDU.decodeRequest(frame.pdu[...]) {
        case let .failure(code): return refuse(frame, sequence: sequence, client: client, code)
        case let .success(decoded): request = decoded
        }
        let (mailbox, id) = (mailbox, client.id)
        bus.submit(request, unit: frame.unit, priority: .passThrough) { result in
            _ = mailbox.send(.answered(client: id, sequence: sequence, pdu: Self.answer(to: request, result)))
        }
    }

    private func refuse(_ frame: MBAPFrame, sequence: Int, client: BusServerClient, _ code: ModbusExceptionCode) {
        let function = frame.pdu.first ?? 0
        counters.withLock { $0.refusedRequests += 1 }
        if let count = refusedRequests.report(now: clock.now) {
            events(.requestRefused(client: client.peer, unit: frame.unit, function: function, exception: code, count: count))
        }
        client.answer(sequence, pdu: ModbusPDU.exceptionResponse(function: function, code))
    }

    /// The answer PDU for the bus's result: the device's answer or exception; 0x0B (gateway
    /// target device failed to respond) when no valid answer came (timeout, CRC, the line down).
    static func answer(to request: ModbusRequest, _ result: Result<ModbusResponse, ModbusError>) -> [UInt8] {
        let function = request.functionCode
        switch result {
        case let .success(response):
            return ModbusPDU.encodeResponse(response, to: request)
                ?? ModbusPDU.exceptionResponse(function: function, .gatewayTargetFailedToRespond)
        case let .failure(error):
            switch error.kind {
            case let .exception(code): return ModbusPDU.exceptionResponse(function: function, code)
            case .invalidRequest: return ModbusPDU.exceptionResponse(function: function, .illegalDataValue)
            default: return ModbusPDU.exceptionResponse(function: function, .gatewayTargetFailedToRespond)
            }
        }
    }
}
