import Mapping
import Modbus
import Serial
import POSIX

extension ScanCommand {
    package func run(logger: Logger) async -> Int32 {
        var profile: DeviceProfile?
        if let profilePath {
            do {
                profile = try DeviceProfile.load(file: profilePath)
            } catch {
                Output.error("modbridge scan: --profile: \(error)")
                return ExitStatus.usage
            }
        }
        let checks = profile.map(Self.plannedChecks) ?? []
        // A request the device is meant to answer is the surest probe; without a profile,
        // holding register 0, which most devices have or refuse with an exception.
        let probe = checks.first?.request ?? .readHoldingRegisters(address: 0, count: 1)
        let trace = line.trace ? logger.frameTrace() : nil
        var report = ScanReport(target: line.configuration.target.description, unitCount: units.count, timeout: timeout)
        if !json { Output.print(preamble) }

        let settingsList: [SerialSettings?] = candidates.isEmpty ? [nil] : candidates
        for settings in settingsList {
            let configuration = self.configuration(at: settings)
            let label = settings.map(Self.describe)
            if let label { report.tried.append(label) }
            let bus: Bus
            do {
                // Each setting reopens the line: its RS-485 warning is worth saying once.
                let firstOpen = report.tried.count <= 1
                bus = try Bus(configuration, trace: trace) { event in
                    if case .opened = event, !firstOpen { return }
                    logger.log(event, opensAndRetries: false)
                }
            } catch {
                return fail(error, logger: logger)
            }
            var foundHere = 0
            for unit in units {
                let result: Result<ModbusResponse, ModbusError>
                do { result = .success(try await bus.perform(probe, unit: unit)) } catch { result = .failure(error) }
                switch ProbeOutcome(result) {
                case .absent:
                    continue
                case let .present(answer):
                    foundHere += 1
                    report.devices.append(.init(unit: unit, settings: label, answer: answer))
                    if !json { Output.print("unit \(unit): \(answer)\(label.map { " at \($0)" } ?? "")") }
                case let .garbled(reason):
                    report.wrongSettings.append(.init(unit: unit, settings: label, reason: reason))
                    if !json { Output.print("unit \(unit): something answers but the frame is broken (\(reason))\(label.map { " at \($0)" } ?? ""): other line settings?") }
                case let .lineFailure(error):
                    await bus.close()
                    return fail(error, logger: logger)
                }
            }
            if foundHere > 0 {
                // On the same line, not a reopened one: a pty refuses the same parity twice in a
                // row (glibc's tcsetattr sees the PARENB the pty driver clears).
                for index in report.devices.indices.suffix(foundHere) {
                    report.devices[index].checks = await check(report.devices[index].unit, against: checks, on: bus)
                }
                report.profile = profile?.model
                report.settings = label
                await bus.close()
                break
            }
            await bus.close()
            if let label, !json { Output.print("\(label): no answer") }
        }
        trace?.flush()
        logger.flush()
        Output.print(json ? report.json : report.table)
        return report.devices.isEmpty ? ExitStatus.failure : ExitStatus.success
    }

    /// Each of the profile's planned reads on `unit`, and what came of it.
    private func check(_ unit: UInt8, against checks: [PlannedCheck], on bus: Bus) async -> [ScanReport.Check] {
        var results: [ScanReport.Check] = []
        for check in checks {
            let result: Result<ModbusResponse, ModbusError>
            do { result = .success(try await bus.perform(check.request, unit: unit)) } catch { result = .failure(error) }
            results.append(.init(request: check.request.summary, points: check.points, result: ScanReport.Check.verdict(result)))
        }
        return results
    }

    /// What the scan will try and how long it may take at most.
    private var preamble: String {
        let perCandidate = candidates.isEmpty ? [timeout] : candidates.map { timeout + Self.transactionTime($0) }
        let worst = perCandidate.reduce(Duration.zero) { $0 + $1 * units.count }
        var text = "scanning \(line.configuration.target) for \(units.count) unit id\(units.count == 1 ? "" : "s"), \(timeout.milliseconds) ms each"
        if candidates.count == 1 { text += ", at \(Self.describe(candidates[0]))" }
        text += ": at most \(Self.seconds(worst))"
        if searchesSettings {
            text += "\ntrying " + candidates.map(Self.describe).joined(separator: ", ")
                + "\n(most common rates first; even parity first, the default of Modbus over Serial Line §2.5.1)"
        }
        return text
    }

    private func fail(_ error: ModbusError, logger: Logger) -> Int32 {
        logger.flush()
        Output.error("modbridge scan: \(error)")
        return ExitStatus.failure
    }

    /// The line's configuration at `settings` (nil: as given).
    private func configuration(at settings: SerialSettings?) -> BusConfiguration {
        var configuration = line.configuration
        if let settings, case let .rtu(path, _) = configuration.target {
            configuration.target = .rtu(path: path, settings: settings)
        }
        return configuration
    }

    /// One request of a profile's poll plan and the points it reads.
    struct PlannedCheck {
        let request: ModbusRequest
        let points: [String]
    }

    /// The reads the gateway would make of a device with `profile`, in plan order.
    static func plannedChecks(_ profile: DeviceProfile) -> [PlannedCheck] {
        PollPlan(profile: profile, start: .now).groups.flatMap(\.reads).map { read in
            PlannedCheck(request: read.request(limits: profile.limits), points: read.points.map { profile.points[$0].name })
        }
    }

    /// `9600 8E1`.
    static func describe(_ settings: SerialSettings) -> String {
        "\(settings.baudRate) \(settings.dataBits.rawValue)\(settings.parity.letter)\(settings.stopBits.rawValue)"
    }

    /// A probe that gets no answer: the request's characters, the wait, and the silence and
    /// drain around it (three times t3.5).
    static func transactionTime(_ settings: SerialSettings) -> Duration {
        settings.characterTime * 8 + settings.interFrameSilence * 3
    }

    /// `27 s`, `1.5 s`, `4 min 10 s`.
    static func seconds(_ duration: Duration) -> String {
        let tenths = Int((duration / .milliseconds(100)).rounded(.up))
        if tenths < 600 { return tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s" }
        let seconds = (tenths + 9) / 10
        return "\(seconds / 60) min \(seconds % 60) s"
    }
}

/// What one probe says about a unit id.
enum ProbeOutcome {
    /// A device: it answered, or refused with an exception (`answer` says which).
    case present(answer: String)
    /// Something answered with a broken frame: a device at other line settings, or two devices.
    case garbled(String)
    /// No answer in time.
    case absent
    /// The line itself failed: the scan cannot go on.
    case lineFailure(ModbusError)

    init(_ result: Result<ModbusResponse, ModbusError>) {
        switch result {
        case .success: self = .present(answer: "answered")
        case let .failure(error):
            switch error.kind {
            case let .exception(code): self = .present(answer: code.description)
            case .timeout: self = .absent
            case .crcMismatch, .lrcMismatch, .invalidFrame: self = .garbled(error.reason)
            case .io, .connectFailed, .linkClosed, .invalidRequest: self = .lineFailure(error)
            }
        }
    }
}
