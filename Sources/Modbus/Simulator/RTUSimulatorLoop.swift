import Glibc
import Serial
import POSIX

/// Answers Modbus RTU on the controller side of a pseudo-terminal, on the simulator's thread,
/// which owns the pty: reads requests, frames them by function code, answers.
struct RTUSimulatorLoop {
    let core: SimulatorCore
    let linkPath: String?
    let control: ConditionLock<ServerControl>
    /// The controllers' own line settings (nil: whatever the master set).
    var lineSettings: SerialSettings? = nil
    var trace: FrameTrace? = nil

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
                    buffer.append(contentsOf: chunk[0..<count])
                    lastByte = .now
                } else if waiting.revents & Int16(POLLHUP) != 0 {
                    sleepThread(.milliseconds(5))
                }
            }
            while let frame = nextFrame(&buffer, quietFor: lastByte.duration(to: .now)) {
                if let lineSettings, let line, !Self.master(line, matches: lineSettings) {
                    traceIgnored(frame)
                    continue
                }
                answer(frame, on: descriptor)
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

    /// Whether the master's side of the pty runs at the controllers' baud rate and parity (data
    /// and stop bits cannot be told apart on a pty, whose driver forces CS8).
    private static func master(_ line: PseudoTerminal, matches settings: SerialSettings) -> Bool {
        guard let master = line.terminalLine() else { return false }
        return master.baudRate == settings.baudRate.rawValue && master.parity == settings.parity
    }

    private func traceIgnored(_ frame: [UInt8]) {
        guard let trace else { return }
        let now = ContinuousClock.now
        trace.record(FrameExchange(unit: frame[0], functionCode: frame.count > 1 ? frame[1] : 0, request: frame, answer: [],
                                   startedAt: now, endedAt: now, outcome: "ignored"))
    }

    private func answer(_ frame: [UInt8], on descriptor: Int32) {
        let receivedAt = ContinuousClock.now
        var written: [UInt8] = []
        defer {
            trace?.record(FrameExchange(unit: frame[0], functionCode: frame.count > 1 ? frame[1] : 0, request: frame, answer: written,
                                        startedAt: receivedAt, endedAt: .now,
                                        outcome: written.isEmpty ? "silent" : (written.count > 1 && written[1] & 0x80 != 0 ? "exception" : "ok")))
        }
        // A request with a bad CRC is not for anyone (Modbus over Serial Line, 2.5.1.2).
        guard ModbusPDU.hasValidCRC(frame[...]) else { return }
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
        core.answering(index)
        let bytes = fault?.wireBytes(answer: response, request: frame) ?? response
        written = bytes
        do {
            try writeAll(descriptor, bytes)
            core.answered()
        } catch {
            // The master side went away; the next poll sees it.
        }
    }
}
