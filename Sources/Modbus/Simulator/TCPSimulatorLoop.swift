import Glibc
import Serial
import POSIX

/// Answers Modbus TCP (MBAP framing), or RTU frames as a device server passes them on, on
/// 127.0.0.1, on the simulator's thread, which owns the sockets.
struct TCPSimulatorLoop {
    let core: SimulatorCore
    let requestedPort: UInt16
    let control: ConditionLock<ServerControl>
    /// nil: Modbus TCP; `.rtu`: RTU over TCP.
    let lineFraming: LineFraming?

    private struct Client {
        let socket: Socket
        var buffer: [UInt8] = []
    }

    func run() {
        var listener: Socket?
        var port = requestedPort
        do {
            let opened = try listen(on: requestedPort)
            port = opened.localPort
            listener = opened
            control.withLockAndSignal { state in
                state.address = (lineFraming == nil ? "tcp" : "rtu+tcp") + "://127.0.0.1:\(port)"
                state.ready = true
            }
        } catch {
            control.withLockAndSignal { $0.startError = error }
            return
        }
        var clients: [Client] = []
        var chunk = [UInt8](repeating: 0, count: 1024)

        while true {
            let (stopping, change) = control.nextCommand()
            if stopping { break }
            if let change {
                clients.removeAll()
                listener = nil
                var failure: ModbusError?
                if change == .replug {
                    do { listener = try listen(on: port) } catch { failure = error }
                }
                control.finishChange(failure)
            }
            core.advanceModels()
            guard let server = listener else {
                sleepThread(.milliseconds(5))
                continue
            }

            var waiting = [pollfd(fd: server.descriptor, events: Int16(POLLIN), revents: 0)]
            waiting += clients.map { pollfd(fd: $0.socket.descriptor, events: Int16(POLLIN), revents: 0) }
            guard let ready = try? checkedSyscall({ poll(&waiting, nfds_t(waiting.count), 10) }), ready > 0 else { continue }

            var closed: Set<Int32> = []
            for index in clients.indices where waiting[index + 1].revents != 0 {
                let socket = clients[index].socket
                let result: Int?
                do {
                    result = try chunk.withUnsafeMutableBytes { buffer throws(Errno) in try socket.read(into: buffer) }
                } catch {
                    result = 0
                }
                guard let count = result else { continue }  // nothing there after all
                guard count > 0 else {
                    closed.insert(socket.descriptor)
                    continue
                }
                clients[index].buffer.append(contentsOf: chunk[0..<count])
                if let lineFraming {
                    // A master writes each frame at once, so a frame whose length its function
                    // code does not tell ends with what has come.
                    let answerer = SerialLineAnswerer(core: core, framing: lineFraming)
                    while let frame = answerer.nextFrame(&clients[index].buffer, quietFor: SerialLineAnswerer.unknownFrameSilence) {
                        if !answerer.answer(frame, write: { bytes throws(Errno) in try socket.writeAll(bytes) }) { closed.insert(socket.descriptor) }
                    }
                } else {
                    while let frame = nextFrame(&clients[index].buffer) {
                        if !answer(frame, on: socket) { closed.insert(socket.descriptor) }
                    }
                }
            }
            // Dropping a Client closes its socket.
            clients.removeAll { closed.contains($0.socket.descriptor) }
            if waiting[0].revents & Int16(POLLIN) != 0, let (accepted, _) = (try? server.accept()) ?? nil {
                clients.append(Client(socket: accepted))
            }
        }
        control.withLockAndSignal { $0.stopped = true }
    }

    private func listen(on port: UInt16) throws(ModbusError) -> Socket {
        do {
            return try Socket.listen(host: "127.0.0.1", port: port, backlog: 16)
        } catch {
            throw ModbusError(.io(error), target: "tcp://127.0.0.1:\(port)")
        }
    }

    /// Takes one MBAP frame (7-byte header + PDU) off the front of `buffer`.
    private func nextFrame(_ buffer: inout [UInt8]) -> [UInt8]? {
        guard buffer.count >= 7 else { return nil }
        let length = Int(buffer[4]) << 8 | Int(buffer[5])
        guard buffer.count >= 6 + length else { return nil }
        let frame = Array(buffer.prefix(6 + length))
        buffer.removeFirst(6 + length)
        return frame
    }

    /// Answers one frame; false if the connection must be closed.
    private func answer(_ frame: [UInt8], on socket: Socket) -> Bool {
        let length = Int(frame[4]) << 8 | Int(frame[5])
        guard frame[2] == 0, frame[3] == 0, length >= 2 else { return false }
        let unit = frame[6]
        let pdu = frame[7...]
        // A TCP device behind a gateway id it does not serve answers "gateway target failed".
        let (decision, index) = core.receive(unit: unit, pdu: pdu, frame: frame, broadcast: false,
                                             unknownUnitAnswer: .gatewayTargetFailedToRespond)
        guard case let .answer(responsePDU, fault) = decision else { return true }
        let answerPDU = fault?.answerPDU(responsePDU) ?? responsePDU
        var response: [UInt8] = [frame[0], frame[1], 0, 0]
        response.appendBigEndian(UInt16(answerPDU.count + 1))
        response.append(fault?.answerUnit(unit) ?? unit)
        response += answerPDU
        switch fault {
        case let .lateAnswer(delay): sleepThread(delay)
        case .heldAnswer: core.holdAnswer()
        case .corruptChecksum: response[0] ^= 0xFF
        default: break
        }
        core.answering(index)
        do {
            try socket.writeAll(fault?.wireBytes(answer: response, request: frame) ?? response)
            core.answered()
            return true
        } catch {
            return false
        }
    }
}
