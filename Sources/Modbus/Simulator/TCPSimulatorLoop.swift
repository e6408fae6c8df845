import Glibc
import Serial
import POSIX

/// Answers Modbus TCP (MBAP framing) on 127.0.0.1, on the simulator's thread, which owns the
/// sockets.
struct TCPSimulatorLoop {
    let core: SimulatorCore
    let requestedPort: UInt16
    let control: ConditionLock<ServerControl>

    private struct Client {
        let descriptor: Int32
        var buffer: [UInt8] = []
    }

    func run() {
        var listener: Int32 = -1
        var port = requestedPort
        do {
            (listener, port) = try listen(on: requestedPort)
            control.withLockAndSignal { state in
                state.address = "tcp://127.0.0.1:\(port)"
                state.ready = true
            }
        } catch {
            control.withLockAndSignal { $0.startError = error }
            return
        }
        var clients: [Client] = []
        var chunk = [UInt8](repeating: 0, count: 1024)

        func closeAll() {
            for client in clients { close(client.descriptor) }
            clients.removeAll()
            if listener >= 0 { close(listener) }
            listener = -1
        }

        while true {
            let (stopping, change) = control.nextCommand()
            if stopping { break }
            if let change {
                closeAll()
                var failure: ModbusError?
                if change == .replug {
                    do { (listener, _) = try listen(on: port) } catch { failure = error }
                }
                control.finishChange(failure)
            }
            core.advanceModels()
            guard listener >= 0 else {
                sleepThread(.milliseconds(5))
                continue
            }

            var waiting = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            waiting += clients.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
            guard let ready = try? checkedSyscall({ poll(&waiting, nfds_t(waiting.count), 10) }), ready > 0 else { continue }

            var closed: Set<Int32> = []
            for index in clients.indices where waiting[index + 1].revents != 0 {
                let descriptor = clients[index].descriptor
                let count = (try? checkedSyscall { read(descriptor, &chunk, chunk.count) }) ?? 0
                guard count > 0 else {
                    closed.insert(descriptor)
                    continue
                }
                clients[index].buffer.append(contentsOf: chunk[0..<count])
                while let frame = nextFrame(&clients[index].buffer) {
                    if !answer(frame, on: descriptor) { closed.insert(descriptor) }
                }
            }
            for descriptor in closed { close(descriptor) }
            clients.removeAll { closed.contains($0.descriptor) }
            if waiting[0].revents & Int16(POLLIN) != 0,
               let accepted = try? checkedSyscall({ accept(listener, nil, nil) }) {
                _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
                _ = fcntl(accepted, F_SETFL, fcntl(accepted, F_GETFL) | O_NONBLOCK)
                var one: Int32 = 1
                _ = setsockopt(accepted, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                clients.append(Client(descriptor: accepted))
            }
        }
        closeAll()
        control.withLockAndSignal { $0.stopped = true }
    }

    private func listen(on port: UInt16) throws(ModbusError) -> (Int32, UInt16) {
        let socketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let descriptor: Int32
        do {
            descriptor = try checkedSyscall { socket(AF_INET, socketType, 0) }
        } catch {
            throw ModbusError(.io(error), target: "tcp://127.0.0.1:\(port)")
        }
        var one: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let size = length
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, size) == 0
                    && Glibc.listen(descriptor, 16) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            let error = Errno.current
            close(descriptor)
            throw ModbusError(.io(error), target: "tcp://127.0.0.1:\(port)")
        }
        return (descriptor, UInt16(bigEndian: address.sin_port))
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
    private func answer(_ frame: [UInt8], on descriptor: Int32) -> Bool {
        let length = Int(frame[4]) << 8 | Int(frame[5])
        guard frame[2] == 0, frame[3] == 0, length >= 2 else { return false }
        let unit = frame[6]
        let pdu = frame[7...]
        // A TCP device behind a gateway id it does not serve answers "gateway target failed".
        let (decision, index) = core.receive(unit: unit, pdu: pdu, frame: frame, broadcast: false,
                                             unknownUnitAnswer: .gatewayTargetFailedToRespond)
        guard case let .answer(responsePDU, fault) = decision else { return true }
        var response: [UInt8] = [frame[0], frame[1], 0, 0]
        response.appendBigEndian(UInt16(responsePDU.count + 1))
        response.append(unit)
        response += responsePDU
        switch fault {
        case let .lateAnswer(delay): sleepThread(delay)
        case .heldAnswer: core.holdAnswer()
        case .corruptChecksum: response[0] ^= 0xFF
        default: break
        }
        do {
            try writeAll(descriptor, applyWireFault(fault, to: response))
            core.answered(index)
            return true
        } catch {
            return false
        }
    }
}
