import Modbus
import POSIX

extension Logger {
    /// A bus's line event as a log line. `bus` names the config's bus, if any; with `opensAndRetries`
    /// false only warnings and losses are logged (a one-shot command says itself why a line did
    /// not open).
    func log(_ event: BusEvent, bus: String? = nil, opensAndRetries: Bool = true) {
        let busField: [(String, String)] = bus.map { [("bus", $0)] } ?? []
        switch event {
        case let .opened(target, rs485):
            if case let .unavailable(error)? = rs485 {
                log(.warning, "rs485_unavailable", busField + [("line", target), ("reason", error.description),
                                                               ("note", "the line runs without kernel RS-485 direction control")])
            }
            if opensAndRetries { log(.info, "line_opened", busField + [("line", target)]) }
        case let .openFailed(error, retryIn):
            guard opensAndRetries else { return }
            log(.error, "line_open_failed", busField + [("line", error.target), ("error", error.reason), ("retry_ms", String(retryIn.milliseconds))])
        case let .lost(error):
            log(.error, "line_lost", busField + [("line", error.target), ("error", error.reason)])
        case let .strayBytes(count, target, unit, request):
            log(.warning, "stray_bytes", busField + [("line", target), ("unit", String(unit)), ("request", request),
                                                       ("bytes", String(count))])
        }
    }
}
