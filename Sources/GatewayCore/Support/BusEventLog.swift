import Modbus
import POSIX
import Serial

extension Logger {
    /// `usb_latency_ms` (the driver's latency timer, after asking for low latency) and
    /// `low_latency` (`on`, or `refused (ERRNO)`) of a USB serial adapter; none for other lines.
    static func usbLatencyFields(_ status: USBLatencyStatus?) -> [(String, String)] {
        guard let status else { return [] }
        let mode: String
        switch status.lowLatency {
        case .set: mode = "on"
        case let .refused(error): mode = "refused (\(error.name))"
        }
        return [("usb_latency_ms", status.latencyAfter.map(String.init) ?? "unknown"), ("low_latency", mode)]
    }

    /// A bus's line event as a log line. `bus` names the config's bus, if any; with `opensAndRetries`
    /// false only warnings and losses are logged (a one-shot command says itself why a line did
    /// not open).
    func log(_ event: BusEvent, bus: String? = nil, opensAndRetries: Bool = true) {
        let busField: [(String, String)] = bus.map { [("bus", $0)] } ?? []
        switch event {
        case let .opened(target, rs485, usbLatency):
            if case let .unavailable(error)? = rs485 {
                log(.warning, "rs485_unavailable", busField + [("line", target), ("reason", error.description),
                                                               ("note", "the line runs without kernel RS-485 direction control")])
            }
            if let advice = usbLatency?.advice {
                log(.warning, "usb_latency_high", busField + [("line", target), ("latency_ms", String(usbLatency?.latencyAfter ?? 0)),
                                                              ("note", advice)])
            }
            if opensAndRetries { log(.info, "line_opened", busField + [("line", target)] + Self.usbLatencyFields(usbLatency)) }
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
