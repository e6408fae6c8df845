import Synchronization
import POSIX

/// A request the simulator received, as it arrived on the wire.
package struct SimulatorRequest: Sendable {
    package let unit: UInt8
    package let functionCode: UInt8
    /// The whole frame as it came: RTU with its CRC, ASCII from `:` to CR LF, or TCP with its
    /// MBAP header.
    package let frame: [UInt8]
    package let receivedAt: ContinuousClock.Instant
    /// When the answer started to be written, if one was: no master can have read it before.
    package var answeredAt: ContinuousClock.Instant?
}

/// What the simulator does with one request.
enum SimulatorDecision {
    case silent
    case answer([UInt8], fault: SimulatedFault?)
}

/// Controllers, the fault plan and the request log, shared by the RTU and TCP servers.
final class SimulatorCore: Sendable {
    let controllers: [UInt8: SimulatedController]
    private let state = Mutex(State())
    static let logLimit = 10_000

    private struct PlannedFault {
        let fault: SimulatedFault
        let unit: UInt8?
        /// Only requests with one of these function codes (nil: any).
        let functions: Set<UInt8>?
        var remaining: Int?

        func applies(unit requested: UInt8, function: UInt8) -> Bool {
            (unit == nil || unit == requested) && (functions?.contains(function) ?? true)
        }
    }

    private struct State {
        var faults: [PlannedFault] = []
        var log: [SimulatorRequest] = []
        var answers = 0
        var releasePermits = 0
    }

    init(controllers: [SimulatedController]) {
        var byUnit: [UInt8: SimulatedController] = [:]
        for controller in controllers { byUnit[controller.unit] = controller }
        self.controllers = byUnit
    }

    func inject(_ fault: SimulatedFault, unit: UInt8?, functions: Set<UInt8>?, times: Int?) {
        state.withLock { $0.faults.append(PlannedFault(fault: fault, unit: unit, functions: functions, remaining: times)) }
    }

    func clearFaults() {
        state.withLock { $0.faults.removeAll() }
    }

    var requests: [SimulatorRequest] { state.withLock { $0.log } }
    var answersSent: Int { state.withLock { $0.answers } }

    func advanceModels() {
        let now = ContinuousClock.now
        for controller in controllers.values { controller.advanceModel(to: now) }
    }

    /// Logs the request and decides the answer; returns the log index for `answered(_:)`.
    func receive(unit: UInt8, pdu: ArraySlice<UInt8>, frame: [UInt8], broadcast: Bool,
                 unknownUnitAnswer: ModbusExceptionCode?) -> (SimulatorDecision, Int) {
        let function = pdu.first ?? 0
        let (fault, index) = state.withLock { state -> (SimulatedFault?, Int) in
            if state.log.count >= Self.logLimit { state.log.removeFirst(state.log.count / 2) }
            state.log.append(SimulatorRequest(unit: unit, functionCode: function, frame: frame, receivedAt: .now))
            guard let position = state.faults.firstIndex(where: { $0.applies(unit: unit, function: function) }) else {
                return (nil, state.log.count - 1)
            }
            let fault = state.faults[position].fault
            if let remaining = state.faults[position].remaining {
                if remaining <= 1 { state.faults.remove(at: position) } else { state.faults[position].remaining = remaining - 1 }
            }
            return (fault, state.log.count - 1)
        }
        if broadcast {
            for controller in controllers.values { _ = controller.respond(to: pdu) }
            return (.silent, index)
        }
        guard let controller = controllers[unit] else {
            if let code = unknownUnitAnswer { return (.answer([function | 0x80, code.rawValue], fault: nil), index) }
            return (.silent, index)
        }
        switch fault {
        case .noAnswer:
            return (.silent, index)
        case let .exception(code):
            return (.answer([function | 0x80, code.rawValue], fault: nil), index)
        default:
            return (.answer(controller.respond(to: pdu), fault: fault), index)
        }
    }

    func releaseHeldAnswers() {
        state.withLock { $0.releasePermits += 1 }
    }

    /// Blocks the server thread until a `releaseHeldAnswers()` (made before or after), for at most 60 s
    /// (a bound for a test that never releases; long enough for one starved by a busy machine).
    func holdAnswer() {
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while ContinuousClock.now < deadline {
            let released = state.withLock { state -> Bool in
                guard state.releasePermits > 0 else { return false }
                state.releasePermits -= 1
                return true
            }
            if released { return }
            sleepThread(.milliseconds(1))
        }
    }

    /// Records that the answer to request `index` is about to be written.
    func answering(_ index: Int) {
        state.withLock { state in
            if index < state.log.count { state.log[index].answeredAt = .now }
        }
    }

    /// Counts an answer written in full.
    func answered() {
        state.withLock { $0.answers += 1 }
    }
}
