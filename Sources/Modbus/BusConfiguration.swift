import Serial

/// How frames are laid out on a serial line (Modbus over Serial Line §2.5).
package enum LineFraming: String, Sendable, Equatable, CaseIterable {
    /// Binary frames closed by a CRC, delimited by silence (§2.5.1).
    case rtu
    /// `:`, hex pairs, LRC, CR LF (§2.5.2); some controllers ship with it as default.
    case ascii
}

/// Where a bus talks: a serial line (Modbus RTU or ASCII), a Modbus TCP endpoint, or a serial
/// device server carrying RTU frames over TCP (transparent mode).
package enum ModbusTarget: Sendable, Equatable, CustomStringConvertible {
    case rtu(path: String, settings: SerialSettings)
    case tcp(host: String, port: UInt16)
    /// RTU frames with their CRC over a TCP socket (Moxa NPort, USR, Waveshare in transparent mode).
    case rtuOverTCP(host: String, port: UInt16)

    /// Parses `tcp://host:port` (port defaults to 502), `rtu+tcp://host:port` (port required:
    /// device servers have no standard one) or a tty path.
    package static func parse(_ text: String, serial: SerialSettings = SerialSettings()) -> Result<ModbusTarget, ModbusTargetError> {
        if text.hasPrefix("rtu+tcp://") {
            return endpoint(text, after: "rtu+tcp://", defaultPort: nil).map { ModbusTarget.rtuOverTCP(host: $0.host, port: $0.port) }
        }
        if text.hasPrefix("tcp://") {
            return endpoint(text, after: "tcp://", defaultPort: 502).map { ModbusTarget.tcp(host: $0.host, port: $0.port) }
        }
        guard text.hasPrefix("/") else {
            return .failure(.init(text: text, reason: "expected a tty path (/dev/ttyUSB0), tcp://host:port or rtu+tcp://host:port"))
        }
        return .success(.rtu(path: text, settings: serial))
    }

    private struct Endpoint { let host: String, port: UInt16 }

    /// `host`, `host:port`, `[IPv6]` or `[IPv6]:port` after `scheme`; without a port,
    /// `defaultPort` (nil: required).
    private static func endpoint(_ text: String, after scheme: String, defaultPort: UInt16?) -> Result<Endpoint, ModbusTargetError> {
        let failure = { (reason: String) in Result<Endpoint, ModbusTargetError>.failure(ModbusTargetError(text: text, reason: reason)) }
        let rest = text.dropFirst(scheme.count)
        var host = rest
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return failure("missing ']' after an IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let tail = rest[rest.index(after: close)...]
            if tail.hasPrefix(":") {
                portText = tail.dropFirst()
            } else if !tail.isEmpty {
                return failure("unexpected '\(tail)' after the address")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty else { return failure("missing host") }
        guard let portText else {
            guard let defaultPort else { return failure("a port is required (a device server has no standard one: host:4001, say)") }
            return .success(Endpoint(host: String(host), port: defaultPort))
        }
        guard let port = UInt16(portText), port > 0 else { return failure("port must be 1...65535") }
        return .success(Endpoint(host: String(host), port: port))
    }

    /// Serial lines carry broadcasts (unit 0), also behind a device server; Modbus TCP has none.
    package var allowsBroadcast: Bool {
        if case .tcp = self { return false }
        return true
    }

    package var description: String {
        switch self {
        case let .rtu(path, _): path
        case let .tcp(host, port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case let .rtuOverTCP(host, port): host.contains(":") ? "rtu+tcp://[\(host)]:\(port)" : "rtu+tcp://\(host):\(port)"
        }
    }
}

/// A target string that is neither a tty path nor a `tcp://` address.
package struct ModbusTargetError: Error, Equatable, Sendable, CustomStringConvertible {
    package let text: String
    package let reason: String
    package var description: String { "'\(text)': \(reason)" }
}

/// How long the bus leaves the line quiet between two frames.
package enum InterFrameSilence: Sendable, Equatable {
    /// t3.5 for the line's baud and framing (1.75 ms above 19200 baud) on RTU; `asciiGap` on
    /// ASCII; none on TCP, RTU over TCP included (the device server times its serial side).
    case standard
    /// A fixed gap, for lines whose devices need another one.
    case fixed(Duration)
}

/// Everything a `Bus` needs to run one line.
package struct BusConfiguration: Sendable, Equatable {
    package var target: ModbusTarget
    /// RTU or ASCII on a serial line; RTU behind a device server (`rtuOverTCP`); unused on Modbus TCP.
    package var framing: LineFraming
    /// How long to wait for the first byte of an answer.
    package var responseTimeout: Duration
    /// How long to wait between two bytes of one answer.
    package var byteTimeout: Duration
    package var silence: InterFrameSilence
    /// Extra quiet time some devices need around their frames, by unit id.
    package var extraDelayByUnit: [UInt8: Duration]
    /// After a broadcast no device answers; devices get this long to act on it.
    package var broadcastTurnaround: Duration
    /// First wait before reopening a failed line; doubles up to `maximumReopenDelay`.
    package var initialReopenDelay: Duration
    package var maximumReopenDelay: Duration

    package init(
        target: ModbusTarget,
        framing: LineFraming = .rtu,
        responseTimeout: Duration = .milliseconds(500),
        byteTimeout: Duration = .milliseconds(100),
        silence: InterFrameSilence = .standard,
        extraDelayByUnit: [UInt8: Duration] = [:],
        broadcastTurnaround: Duration = .milliseconds(100),
        initialReopenDelay: Duration = .milliseconds(100),
        maximumReopenDelay: Duration = .seconds(5)
    ) {
        self.target = target
        self.framing = framing
        self.responseTimeout = responseTimeout
        self.byteTimeout = byteTimeout
        self.silence = silence
        self.extraDelayByUnit = extraDelayByUnit
        self.broadcastTurnaround = broadcastTurnaround
        self.initialReopenDelay = initialReopenDelay
        self.maximumReopenDelay = maximumReopenDelay
    }

    /// The gap between frames on a Modbus ASCII line. ASCII frames are delimited by `:` and
    /// CR LF, not by silence (Serial Line §2.5.2.1), so t3.5 does not apply; this short gap only
    /// lets a slow device turn its RS-485 driver back to receive after its LF (2 ms: two
    /// characters at 9600 baud, the usual ASCII speed).
    package static let asciiGap = Duration.milliseconds(2)

    /// The gap kept between frames on this line, before per-unit extras.
    package var interFrameSilence: Duration {
        switch (silence, target) {
        case let (.fixed(gap), _): gap
        case (.standard, .rtu) where framing == .ascii: Self.asciiGap
        case let (.standard, .rtu(_, settings)): settings.interFrameSilence
        case (.standard, .tcp), (.standard, .rtuOverTCP): .zero
        }
    }
}
