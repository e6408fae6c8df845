import Serial

/// Where a bus talks: a serial line (Modbus RTU) or a Modbus TCP endpoint.
package enum ModbusTarget: Sendable, Equatable, CustomStringConvertible {
    case rtu(path: String, settings: SerialSettings)
    case tcp(host: String, port: UInt16)

    /// Parses `tcp://host:port` (port defaults to 502) or a tty path.
    package static func parse(_ text: String, serial: SerialSettings = SerialSettings()) -> Result<ModbusTarget, ModbusTargetError> {
        if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            var host = Substring(rest)
            var port: UInt16 = 502
            if rest.hasPrefix("[") {
                // [IPv6]:port
                guard let close = rest.firstIndex(of: "]") else { return .failure(.init(text: text, reason: "missing ']' after an IPv6 address")) }
                host = rest[rest.index(after: rest.startIndex)..<close]
                let tail = rest[rest.index(after: close)...]
                if tail.hasPrefix(":") {
                    guard let parsed = UInt16(tail.dropFirst()), parsed > 0 else { return .failure(.init(text: text, reason: "port must be 1...65535")) }
                    port = parsed
                } else if !tail.isEmpty {
                    return .failure(.init(text: text, reason: "unexpected '\(tail)' after the address"))
                }
            } else if let colon = rest.lastIndex(of: ":") {
                host = rest[..<colon]
                guard let parsed = UInt16(rest[rest.index(after: colon)...]), parsed > 0 else {
                    return .failure(.init(text: text, reason: "port must be 1...65535"))
                }
                port = parsed
            }
            guard !host.isEmpty else { return .failure(.init(text: text, reason: "missing host")) }
            return .success(.tcp(host: String(host), port: port))
        }
        guard text.hasPrefix("/") else {
            return .failure(.init(text: text, reason: "expected a tty path (/dev/ttyUSB0) or tcp://host:port"))
        }
        return .success(.rtu(path: text, settings: serial))
    }

    /// RTU lines carry broadcasts (unit 0); TCP has no broadcast.
    package var allowsBroadcast: Bool {
        if case .rtu = self { return true }
        return false
    }

    package var description: String {
        switch self {
        case let .rtu(path, _): path
        case let .tcp(host, port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
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
    /// t3.5 for the line's baud and framing (1.75 ms above 19200 baud); none on TCP.
    case standard
    /// A fixed gap, for lines whose devices need another one.
    case fixed(Duration)
}

/// Everything a `Bus` needs to run one line.
package struct BusConfiguration: Sendable, Equatable {
    package var target: ModbusTarget
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
        responseTimeout: Duration = .milliseconds(500),
        byteTimeout: Duration = .milliseconds(100),
        silence: InterFrameSilence = .standard,
        extraDelayByUnit: [UInt8: Duration] = [:],
        broadcastTurnaround: Duration = .milliseconds(100),
        initialReopenDelay: Duration = .milliseconds(100),
        maximumReopenDelay: Duration = .seconds(5)
    ) {
        self.target = target
        self.responseTimeout = responseTimeout
        self.byteTimeout = byteTimeout
        self.silence = silence
        self.extraDelayByUnit = extraDelayByUnit
        self.broadcastTurnaround = broadcastTurnaround
        self.initialReopenDelay = initialReopenDelay
        self.maximumReopenDelay = maximumReopenDelay
    }

    /// The gap kept between frames on this line, before per-unit extras.
    package var interFrameSilence: Duration {
        switch (silence, target) {
        case let (.fixed(gap), _): gap
        case let (.standard, .rtu(_, settings)): settings.interFrameSilence
        case (.standard, .tcp): .zero
        }
    }
}
