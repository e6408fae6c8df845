import Glibc
import Serial
import POSIX

/// Simulated controllers answering Modbus RTU or ASCII on a pseudo-terminal, or Modbus TCP or
/// RTU over TCP on 127.0.0.1, with faults on demand. Each server runs on its own thread; call `stop()` when done.
package final class ModbusSimulator: Sendable {
    private let core: SimulatorCore
    private let server: SimulatorThread

    private init(core: SimulatorCore, server: SimulatorThread) {
        self.core = core
        self.server = server
    }

    /// Serves `controllers` on a new pseudo-terminal, in `framing` (RTU or ASCII). With
    /// `linkPath`, a symbolic link there names the terminal and survives `unplug()`/`replug()`,
    /// like a udev by-id link. With `lineSettings` the controllers keep their own baud rate and
    /// parity: a request arriving while the master's side of the pty is set otherwise is noise to
    /// them and goes unanswered, as on a real line at mismatched settings. With `lineTiming`,
    /// requests and answers take the time a real line at its settings gives them. `trace` sees
    /// each request received and the answer given.
    package static func startRTU(controllers: [SimulatedController], linkPath: String? = nil, framing: LineFraming = .rtu,
                                 lineSettings: SerialSettings? = nil, lineTiming: SimulatedLineTiming? = nil,
                                 trace: FrameTrace? = nil) throws(ModbusError) -> ModbusSimulator {
        let core = SimulatorCore(controllers: controllers)
        let server = try SimulatorThread(target: linkPath ?? "pty") { control in
            RTUSimulatorLoop(core: core, linkPath: linkPath, control: control, lineSettings: lineSettings, lineTiming: lineTiming,
                             trace: trace, framing: framing).run()
        }
        return ModbusSimulator(core: core, server: server)
    }

    /// Serves `controllers` on 127.0.0.1:`port` (0 picks a free port; see `port`).
    package static func startTCP(controllers: [SimulatedController], port: UInt16 = 0) throws(ModbusError) -> ModbusSimulator {
        let core = SimulatorCore(controllers: controllers)
        let server = try SimulatorThread(target: "tcp://127.0.0.1:\(port)") { control in
            TCPSimulatorLoop(core: core, requestedPort: port, control: control, lineFraming: nil).run()
        }
        return ModbusSimulator(core: core, server: server)
    }

    /// Serves `controllers` as a serial device server in transparent mode would pass them on:
    /// RTU frames with their CRC on 127.0.0.1:`port` (0 picks a free port); `address` is
    /// `rtu+tcp://127.0.0.1:port`.
    package static func startRTUOverTCP(controllers: [SimulatedController], port: UInt16 = 0) throws(ModbusError) -> ModbusSimulator {
        let core = SimulatorCore(controllers: controllers)
        let server = try SimulatorThread(target: "rtu+tcp://127.0.0.1:\(port)") { control in
            TCPSimulatorLoop(core: core, requestedPort: port, control: control, lineFraming: .rtu).run()
        }
        return ModbusSimulator(core: core, server: server)
    }

    /// Where a master connects: the tty path (or link) for RTU and ASCII, `tcp://127.0.0.1:port`
    /// for TCP, `rtu+tcp://127.0.0.1:port` for RTU over TCP.
    package var address: String { server.address }

    /// The controller answering as `unit`.
    package func controller(unit: UInt8) -> SimulatedController? { core.controllers[unit] }

    /// Injects `fault` into the next `times` requests (nil: until `clearFaults()`), for one unit or
    /// all, and for requests of the given function codes only, or any.
    package func inject(_ fault: SimulatedFault, unit: UInt8? = nil, functions: Set<UInt8>? = nil, times: Int? = 1) {
        core.inject(fault, unit: unit, functions: functions, times: times)
    }

    package func clearFaults() { core.clearFaults() }

    /// Lets one answer held by `SimulatedFault.heldAnswer` go (now, or when it comes).
    package func releaseHeldAnswers() { core.releaseHeldAnswers() }

    /// Every request received so far (the most recent 5,000 to 10,000 on a long run).
    package var requests: [SimulatorRequest] { core.requests }

    /// How many answers have been written.
    package var answersSent: Int { core.answersSent }

    /// The line goes away: the pty is closed (a master holding it reads EIO) and the link
    /// removed; on TCP the listener and every connection are closed.
    package func unplug() async throws(ModbusError) { try await server.change(.unplug) }

    /// The line comes back: a new pty behind the same link; on TCP the same port listens again.
    package func replug() async throws(ModbusError) { try await server.change(.replug) }

    /// Stops serving and releases the line.
    package func stop() { server.stop() }
}

enum LineChange: Sendable {
    case unplug, replug
}

/// A server loop's thread and the control state it shares with the callers driving it.
final class SimulatorThread: Sendable {
    private let control = ConditionLock(ServerControl())
    private let thread: DedicatedThread

    /// Starts `loop` on its own thread and waits until it serves, or throws why it could not.
    init(target: String, _ loop: @escaping @Sendable (ConditionLock<ServerControl>) -> Void) throws(ModbusError) {
        let control = self.control
        do {
            thread = try DedicatedThread(name: "modbus-sim") { loop(control) }
        } catch {
            throw ModbusError(.io(error), target: target)
        }
        do {
            try control.awaitReady()
        } catch {
            thread.join()
            throw error
        }
    }

    var address: String { control.withLock { $0.address } }

    func change(_ change: LineChange) async throws(ModbusError) {
        try await control.request(change)
    }

    func stop() {
        control.withLockAndSignal { $0.stopping = true }
        thread.join()
    }
}

/// Shared state between a server thread and the callers driving it.
struct ServerControl {
    var address = ""
    var ready = false
    var startError: ModbusError?
    var pendingChange: LineChange?
    var changeError: ModbusError?
    var changesDone = 0
    var stopping = false
    var stopped = false
}

extension ConditionLock where State == ServerControl {
    /// Asks the server thread for a line change and waits (off the thread) until it is made.
    func request(_ change: LineChange) async throws(ModbusError) {
        let before = withLockAndSignal { state -> Int in
            state.pendingChange = change
            state.changeError = nil
            return state.changesDone
        }
        while true {
            let (done, error) = withLock { ($0.changesDone > before || $0.stopped, $0.changeError) }
            if let error { throw error }
            if done { return }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// For the server thread: whether to stop, and the line change asked for, if any.
    func nextCommand() -> (stopping: Bool, change: LineChange?) {
        withLock { state in
            defer { state.pendingChange = nil }
            return (state.stopping, state.pendingChange)
        }
    }

    /// For the server thread: the asked change is made (or failed with `error`).
    func finishChange(_ error: ModbusError?) {
        withLockAndSignal { state in
            state.changeError = error
            state.changesDone += 1
        }
    }

    /// Waits for the thread to come up; throws what made it fail.
    func awaitReady() throws(ModbusError) {
        let error = wait(until: nil) { state -> ModbusError?? in
            if let error = state.startError { return .some(error) }
            return state.ready ? .some(nil) : nil
        }
        if let error = error ?? nil { throw error }
    }
}
