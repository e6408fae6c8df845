import Glibc
import Serial
import POSIX

/// Answers Modbus RTU on the controller side of a pseudo-terminal, on the simulator's thread,
/// which owns the pty: reads requests, frames them by function code, answers.
struct RTUSimulatorLoop {
    let core: SimulatorCore
    let linkPath: String?
    let control: ConditionLock<ServerControl>
    /// A real line's character times to keep (nil: answer at once).
    var lineTiming: SimulatedLineTiming? = nil

    /// A request still incomplete after this long is noise: it is dropped.
    private let incompleteFrameLimit = Duration.milliseconds(100)
    /// A frame whose length the function code does not tell ends after this much silence.
    private let unknownFrameSilence = Duration.milliseconds(5)

    func run() {
        var line: PseudoTerminal?
        do {
            line = try openLine()
            control.withLockAndSignal { $0.ready = true }
        } catch {
            control.withLockAndSignal { $0.startError = error }
            return
        }
        var buffer: [UInt8] = []
        var lastByte = ContinuousClock.now
        var firstByte = ContinuousClock.now
        var chunk = [UInt8](repeating: 0, count: 512)

        while true {
            let (stopping, change) = control.nextCommand()
            if stopping { break }
            if let change {
                line?.close()
                line = nil
                buffer.removeAll()
                removeLink()
                var failure: ModbusError?
                if change == .replug {
                    do { line = try openLine() } catch { failure = error }
                }
                control.finishChange(failure)
            }
            core.advanceModels()
            guard let descriptor = line?.controllerDescriptor else {
                sleepThread(.milliseconds(5))
                continue
            }

            var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = (try? checkedSyscall { poll(&waiting, 1, 10) }) ?? 0
            if ready > 0 {
                if let count = try? checkedSyscall({ read(descriptor, &chunk, chunk.count) }), count > 0 {
                    if buffer.isEmpty { firstByte = .now }
                    buffer.append(contentsOf: chunk[0..<count])
                    lastByte = .now
                } else if waiting.revents & Int16(POLLHUP) != 0 {
                    sleepThread(.milliseconds(5))
                }
            }
            while let frame = nextFrame(&buffer, quietFor: lastByte.duration(to: .now)) {
                answer(frame, on: descriptor, firstByte: firstByte)
                firstByte = .now
            }
        }
        line?.close()
        removeLink()
        control.withLockAndSignal { $0.stopped = true }
    }

    private func openLine() throws(ModbusError) -> PseudoTerminal {
        let line: PseudoTerminal
        do {
            line = try PseudoTerminal.open()
        } catch {
            throw ModbusError(.connectFailed(error.description), target: linkPath ?? "simulator")
        }
        var address = line.terminalPath
        if let linkPath {
            unlink(linkPath)
            guard symlink(line.terminalPath, linkPath) == 0 else {
                throw ModbusError(.io(Errno.current), target: linkPath)
            }
            address = linkPath
        }
        control.withLock { $0.address = address }
        return line
    }

    private func removeLink() {
        if let linkPath { unlink(linkPath) }
    }

    /// Takes one whole request frame off the front of `buffer`, or nil if none is complete.
    private func nextFrame(_ buffer: inout [UInt8], quietFor quiet: Duration) -> [UInt8]? {
        guard buffer.count >= 2 else {
            if !buffer.isEmpty && quiet > incompleteFrameLimit { buffer.removeAll() }
            return nil
        }
        let expected: Int?
        switch buffer[1] {
        case 1...6: expected = 8
        case 15, 16: expected = buffer.count >= 7 ? 9 + Int(buffer[6]) : nil
        case 23: expected = buffer.count >= 11 ? 13 + Int(buffer[10]) : nil
        default: expected = quiet >= unknownFrameSilence ? buffer.count : nil
        }
        guard let expected, buffer.count >= expected else {
            if quiet > incompleteFrameLimit { buffer.removeAll() }
            return nil
        }
        let frame = Array(buffer.prefix(expected))
        buffer.removeFirst(expected)
        return frame
    }

    private func answer(_ frame: [UInt8], on descriptor: Int32, firstByte: ContinuousClock.Instant) {
        // A request with a bad CRC is not for anyone (Modbus over Serial Line, 2.5.1.2).
        guard ModbusPDU.hasValidCRC(frame[...]) else { return }
        let received = lineTiming?.requestReceived(firstByte: firstByte, count: frame.count)
        if let lineTiming, let received { lineTiming.wait(until: received) }
        let unit = frame[0]
        let pdu = frame[1..<frame.count - 2]
        let (decision, index) = core.receive(unit: unit, pdu: pdu, frame: frame,
                                             broadcast: unit == ModbusRequest.Limits.broadcastUnit, unknownUnitAnswer: nil)
        guard case let .answer(responsePDU, fault) = decision else { return }
        var response = ModbusPDU.rtuFrame(unit: fault?.answerUnit(unit) ?? unit, pdu: fault?.answerPDU(responsePDU) ?? responsePDU)
        switch fault {
        case let .lateAnswer(delay): sleepThread(delay)
        case .heldAnswer: core.holdAnswer()
        case .corruptChecksum: response[response.count - 1] ^= 0xFF
        default: break
        }
        if let lineTiming, let received {
            lineTiming.wait(until: lineTiming.answerSent(requestReceived: received, count: response.count))
        }
        core.answering(index)
        do {
            try writeAll(descriptor, fault?.wireBytes(answer: response, request: frame) ?? response)
            core.answered()
        } catch {
            // The master side went away; the next poll sees it.
        }
    }
}
