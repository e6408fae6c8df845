import Glibc
import Serial
import POSIX

/// Answers Modbus RTU or ASCII on the controller side of a pseudo-terminal, on the simulator's
/// thread, which owns the pty: reads requests, frames them (`SerialLineAnswerer`), answers.
struct RTUSimulatorLoop {
    let core: SimulatorCore
    let linkPath: String?
    let control: ConditionLock<ServerControl>

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
                    buffer.append(contentsOf: chunk[0..<count])
                    lastByte = .now
                } else if waiting.revents & Int16(POLLHUP) != 0 {
                    sleepThread(.milliseconds(5))
                }
            }
            while let frame = answerer.nextFrame(&buffer, quietFor: lastByte.duration(to: .now)) {
                // A write that fails: the master side went away; the next poll sees it.
                _ = answerer.answer(frame) { bytes throws(Errno) in try writeAll(descriptor, bytes) }
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
}
