import Serial

/// Predicts how long transactions and poll cycles take on a serial line, from the line's
/// character time, the frame sizes each function code gives, the silences between frames and
/// the devices' turnaround. Pure: no clock, no line.
///
/// One transaction is, in order: the request's characters; the silence by which the device
/// knows the request ended (t3.5 on RTU, Modbus over Serial Line §2.5.1.1; none on ASCII, whose
/// LF ends a frame, §2.5.2.1); the device's turnaround (the time it takes to answer); the
/// answer's characters; then the silence the master keeps before its next frame (the bus's
/// inter-frame silence, plus any per-unit extra delay).
package struct CyclePredictor: Sendable, Equatable {
    package let settings: SerialSettings
    package let framing: LineFraming
    /// The quiet the master keeps after an answer before its next request (t3.5 or the bus's fixed gap).
    package let silence: Duration
    /// Extra quiet some devices need around their frames, by unit id.
    package let extraDelayByUnit: [UInt8: Duration]

    /// A device's turnaround when its profile gives none. The specification sets no figure for
    /// a unicast answer; a controller's firmware typically answers within a few milliseconds of
    /// seeing the request end. Profiles of devices known to be slower (or that have a configured
    /// answer delay) say so with `"turnaround"`.
    package static let defaultTurnaround = Duration.milliseconds(5)

    package init(settings: SerialSettings, framing: LineFraming = .rtu, silence: Duration? = nil,
                 extraDelayByUnit: [UInt8: Duration] = [:]) {
        self.settings = settings
        self.framing = framing
        self.silence = silence ?? settings.interFrameSilence
        self.extraDelayByUnit = extraDelayByUnit
    }

    /// The predictor of a serial bus; nil for Modbus TCP and RTU over TCP, whose time is the
    /// network's and the device server's, not a number of characters at a baud rate.
    package init?(configuration: BusConfiguration) {
        guard case let .rtu(_, settings) = configuration.target else { return nil }
        self.init(settings: settings, framing: configuration.framing, silence: configuration.interFrameSilence,
                  extraDelayByUnit: configuration.extraDelayByUnit)
    }

    // MARK: - Frames

    /// Bytes of the RTU request frame: unit, PDU, CRC.
    package static func requestBytes(_ request: ModbusRequest) -> Int {
        1 + ModbusPDU.encode(request).count + 2
    }

    /// Bytes of the RTU frame of a correct answer to `request` (Application Protocol §6).
    package static func answerBytes(_ request: ModbusRequest) -> Int {
        RTUAnswer.expectedLength(of: request)
    }

    /// Characters on the wire for the message whose RTU frame has `rtuBytes` bytes. ASCII sends
    /// `:`, two hex characters per byte of unit, PDU and LRC (the LRC being one byte where the
    /// CRC is two), then CR LF (§2.5.2.1).
    package func characters(rtuBytes: Int) -> Int {
        switch framing {
        case .rtu: rtuBytes
        case .ascii: 1 + 2 * (rtuBytes - 2 + 1) + 2
        }
    }

    /// The time `count` characters take on the wire (computed in one division, so that long
    /// frames carry no rounding of the character time).
    package func transmissionTime(characters count: Int) -> Duration {
        .nanoseconds(Int64(count) * Int64(settings.bitsPerCharacter) * 1_000_000_000 / Int64(settings.baudRate.rawValue))
    }

    /// The silence by which a device knows a request has ended: t3.5 on RTU, none on ASCII.
    package var endOfRequestGap: Duration {
        framing == .rtu ? settings.interFrameSilence : .zero
    }

    // MARK: - Transactions

    /// One request and its answer, as the predictor times them.
    package struct Transaction: Sendable, Equatable {
        package let requestCharacters: Int
        package let answerCharacters: Int
        /// Request, end-of-request gap, turnaround, answer, and the master's silence after it.
        package let duration: Duration
        /// Data bits the answer (or, for a write, the request) carries: 16 per register, 1 per bit.
        package let payloadBits: Int
    }

    /// The time of `request` to `unit`, the device taking `turnaround` to answer; the silence
    /// after it is the bus's plus `unit`'s extra delay.
    package func transaction(_ request: ModbusRequest, unit: UInt8, turnaround: Duration = defaultTurnaround) -> Transaction {
        transaction(request, turnaround: turnaround, gapAfter: silence + (extraDelayByUnit[unit] ?? .zero))
    }

    private func transaction(_ request: ModbusRequest, turnaround: Duration, gapAfter: Duration) -> Transaction {
        let requestCharacters = characters(rtuBytes: Self.requestBytes(request))
        let answerCharacters = characters(rtuBytes: Self.answerBytes(request))
        let duration = transmissionTime(characters: requestCharacters + answerCharacters) + endOfRequestGap + turnaround + gapAfter
        return Transaction(requestCharacters: requestCharacters, answerCharacters: answerCharacters, duration: duration,
                           payloadBits: Self.payloadBits(request))
    }

    /// Data bits a request moves: the values read, or the values written.
    package static func payloadBits(_ request: ModbusRequest) -> Int {
        switch request {
        case let .readCoils(_, count), let .readDiscreteInputs(_, count): count
        case let .readHoldingRegisters(_, count), let .readInputRegisters(_, count): 16 * count
        case let .readWriteMultipleRegisters(_, readCount, _, values): 16 * (readCount + values.count)
        case .writeSingleCoil: 1
        case .writeSingleRegister: 16
        case let .writeMultipleCoils(_, values): values.count
        case let .writeMultipleRegisters(_, values): 16 * values.count
        }
    }

    // MARK: - Poll cycles

    /// The requests one device polls together at one interval (a poll group).
    package struct PolledGroup: Sendable, Equatable {
        /// How the group is named in a warning: `boiler-1 holding every 1s`, say.
        package var label: String
        package var unit: UInt8
        package var interval: Duration
        package var requests: [ModbusRequest]
        package var turnaround: Duration

        package init(label: String, unit: UInt8, interval: Duration, requests: [ModbusRequest], turnaround: Duration = CyclePredictor.defaultTurnaround) {
            self.label = label
            self.unit = unit
            self.interval = interval
            self.requests = requests
            self.turnaround = turnaround
        }
    }

    /// A group's share of the cycle.
    package struct GroupTime: Sendable, Equatable {
        package let group: PolledGroup
        /// Its requests back to back, each with the silence after it.
        package let duration: Duration
        package let characters: Int
        package let payloadBits: Int
    }

    /// One poll cycle of a bus: every group of every device once, back to back.
    package struct Cycle: Sendable, Equatable {
        package let groups: [GroupTime]
        package let duration: Duration
        package var requests: Int { groups.reduce(0) { $0 + $1.group.requests.count } }
        /// Characters on the wire, requests and answers.
        package var characters: Int { groups.reduce(0) { $0 + $1.characters } }
        package var payloadBits: Int { groups.reduce(0) { $0 + $1.payloadBits } }
        package var shortestInterval: Duration? { groups.map(\.group.interval).min() }

        /// The share of the line's time the groups need at their intervals: Σ time ÷ interval.
        /// Above 1 the configured intervals cannot all be met.
        package var utilisation: Double {
            groups.reduce(0) { total, time in
                time.group.interval > .zero ? total + time.duration.inSeconds / time.group.interval.inSeconds : total
            }
        }

        /// The groups whose interval is shorter than the cycle, when the intervals cannot all be
        /// met (utilisation above 1): those are polled late. None when the line keeps up.
        package var lateGroups: [GroupTime] {
            guard utilisation > 1 else { return [] }
            return groups.filter { $0.group.interval < duration }
        }

        /// Data bits carried per bit the line could carry in the cycle: the wire efficiency limit.
        package func efficiency(baud: Int) -> Double {
            duration > .zero ? Double(payloadBits) / (duration.inSeconds * Double(baud)) : 0
        }
    }

    /// The cycle of `groups` polled in this order, round and round: the gap before each request
    /// is the silence plus the larger extra delay of the unit before it and its own, as the bus
    /// keeps it.
    package func cycle(_ groups: [PolledGroup]) -> Cycle {
        let units = groups.flatMap { group in group.requests.map { _ in group.unit } }
        var position = 0
        var times: [GroupTime] = []
        for group in groups {
            var duration = Duration.zero
            var characters = 0
            var payload = 0
            for request in group.requests {
                let next = units[(position + 1) % units.count]
                let extra = max(extraDelayByUnit[group.unit] ?? .zero, extraDelayByUnit[next] ?? .zero)
                let time = transaction(request, turnaround: group.turnaround, gapAfter: silence + extra)
                duration += time.duration
                characters += time.requestCharacters + time.answerCharacters
                payload += time.payloadBits
                position += 1
            }
            times.append(GroupTime(group: group, duration: duration, characters: characters, payloadBits: payload))
        }
        return Cycle(groups: times, duration: times.reduce(.zero) { $0 + $1.duration })
    }
}

extension Duration {
    /// The duration in seconds, as a Double (for ratios).
    package var inSeconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
