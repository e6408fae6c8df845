import Modbus
import POSIX

extension Logger {
    /// A frame trace whose lines are `bus_trace` events in this log (`trace_suppressed count=N`
    /// past the rate bound, `bus_trace_switched` when switched), with `bus` naming the config's
    /// bus if any. `on: false` makes one that waits to be switched on.
    package func frameTrace(bus: String? = nil, on: Bool = true, linesPerSecond: Int = 50) -> FrameTrace {
        let logger = self
        return FrameTrace(on: on, linesPerSecond: linesPerSecond) { line in logger.log(line, bus: bus) }
    }

    /// One trace line as a log record.
    func log(_ line: FrameTrace.Line, bus: String?) {
        let busField: [(String, String)] = bus.map { [("bus", $0)] } ?? []
        switch line {
        case let .frame(exchange, sinceStart):
            var fields = busField + [
                ("t", Self.decimal(sinceStart, unit: .seconds(1), digits: 3)),
                ("ms", Self.decimal(exchange.startedAt.duration(to: exchange.endedAt), unit: .milliseconds(1), digits: 1)),
                ("unit", String(exchange.unit)),
                ("fc", FrameExchange.hex([exchange.functionCode])),
                ("outcome", exchange.outcome),
                ("tx", FrameExchange.hex(exchange.request)),
                ("rx", FrameExchange.hex(exchange.answer)),
            ]
            if exchange.level == .pdu { fields.append(("level", "pdu")) }
            log(.info, "bus_trace", fields)
        case let .suppressed(count):
            log(.info, "trace_suppressed", busField + [("count", String(count))])
        case let .switched(on, until):
            var fields = busField + [("on", on ? "true" : "false")]
            if let until { fields.append(("for_s", String(until.components.seconds))) }
            log(.info, "bus_trace_switched", fields)
        }
    }

    /// `duration` in `unit`s with `digits` decimals: 12.345.
    static func decimal(_ duration: Duration, unit: Duration, digits: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((duration / unit * Double(scale)).rounded())
        let whole = scaled / scale, fraction = abs(scaled % scale)
        var fractionText = String(fraction)
        while fractionText.count < digits { fractionText = "0" + fractionText }
        return "\(scaled < 0 && whole == 0 ? "-" : "")\(whole).\(fractionText)"
    }
}
