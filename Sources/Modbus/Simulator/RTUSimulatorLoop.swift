import Glibc
import Serial
import POSIX

/// Answers Modbus RTU or ASCII on the controller side of a pseudo-terminal, on the simulator's
/// thread, which owns the pty: reads requests, frames them (`SerialLineAnswerer`), answers.
struct RTUSimulatorLoop {
    let core: SimulatorCore
    let linkPath: String?
    let control: ConditionLock<ServerControl>
    /// The controllers' own line settings (nil: whatever the master set).
    var lineSettings: SerialSettings? = nil
    /// A real line's character times to keep (nil: answer at once).
    var lineTiming: SimulatedLineTiming? = nil
    var trace: FrameTrace? = nil

    let framing: LineFraming

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
        let answerer = SerialLineAnswerer(core: core, framing: framing)

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
            while let frame = answerer.nextFrame(&buffer, quietFor: lastByte.duration(to: .now)) {
                if let lineSettings, let line, !Self.master(line, matches: lineSettings) {
                    traceIgnored(frame)
                    continue
                }
                answer(frame, on: descriptor, with: answerer, firstByte: firstByte)
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

    /// Whether the master's side of the pty runs at the controllers' baud rate and parity (data
    /// and stop bits cannot be told apart on a pty, whose driver forces CS8).
    private static func master(_ line: PseudoTerminal, matches settings: SerialSettings) -> Bool {
        guard let master = line.terminalLine() else { return false }
        return master.baudRate == settings.baudRate.rawValue && master.parity == settings.parity
    }

    private func traceIgnored(_ frame: [UInt8]) {
        guard let trace else { return }
        let now = ContinuousClock.now
        trace.record(FrameExchange(unit: frame.first ?? 0, functionCode: frame.count > 1 ? frame[1] : 0, request: frame, answer: [],
                                   startedAt: now, endedAt: now, outcome: "ignored"))
    }

    /// Answers `frame` on the pty, and traces it when tracing.
    private func answer(_ frame: [UInt8], on descriptor: Int32, with answerer: SerialLineAnswerer, firstByte: ContinuousClock.Instant) {
        // With a real line's timing the request has only arrived once its last character has.
        let received = lineTiming?.requestReceived(firstByte: firstByte, count: frame.count)
        if let lineTiming, let received { lineTiming.wait(until: received) }
        let receivedAt = ContinuousClock.now
        var written: [UInt8] = []
        // A write that fails: the master side went away; the next poll sees it.
        _ = answerer.answer(frame, beforeAnswer: { count in
            if let lineTiming, let received { lineTiming.wait(until: lineTiming.answerSent(requestReceived: received, count: count)) }
        }) { bytes throws(Errno) in
            written = bytes
            try writeAll(descriptor, bytes)
        }
        guard let trace else { return }
        // The unit and function as the frame carries them (ASCII in hex after ':').
        var unit = frame.first ?? 0
        var function: UInt8 = frame.count > 1 ? frame[1] : 0
        if framing == .ascii, frame.count >= 5, let u = UInt8(String(decoding: frame[1..<3], as: UTF8.self), radix: 16),
           let f = UInt8(String(decoding: frame[3..<5], as: UTF8.self), radix: 16) {
            unit = u
            function = f
        }
        let answered = framing == .ascii ? (written.count >= 5 ? UInt8(String(decoding: written[3..<5], as: UTF8.self), radix: 16) : nil)
                                         : (written.count > 1 ? written[1] : nil)
        trace.record(FrameExchange(unit: unit, functionCode: function, request: frame, answer: written,
                                   startedAt: receivedAt, endedAt: .now,
                                   outcome: written.isEmpty ? "silent" : ((answered ?? 0) & 0x80 != 0 ? "exception" : "ok")))
    }
}
