import Serial
import POSIX

/// A line whose frames modbridge builds and reads itself, without libmodbus (which has no
/// ASCII and no RTU over TCP): Modbus ASCII on a serial port, or RTU frames with their CRC on a
/// TCP socket to a serial device server. Owned and used by one `ModbusConnection`, on the bus
/// thread; it is the one owner of its port or socket.
final class FramedLine {
    private let line: any LineByteSource
    private let framing: LineFraming
    private let target: String
    private let responseTimeout: Duration
    /// The least quiet that ends a drain: on TCP the pieces of one late answer can come a byte
    /// timeout apart (the device server packs what it reads from the line into segments), so a
    /// shorter lull does not mean the answer is over.
    private let drainQuiet: Duration
    private let rtuReader: RTUAnswerReader
    private let asciiReader: ASCIIAnswerReader
    /// What RS-485 mode a serial line runs in, for the log; nil on TCP.
    let rs485Status: RS485Status?
    /// While true, each transaction leaves the bytes sent and read in `lastFrames` (a frame trace).
    var recordsFrames = false
    private(set) var lastFrames = FrameBytes()

    private init(line: any LineByteSource, framing: LineFraming, rs485Status: RS485Status?, configuration: BusConfiguration) {
        self.line = line
        self.framing = framing
        self.rs485Status = rs485Status
        target = configuration.target.description
        responseTimeout = configuration.responseTimeout
        drainQuiet = line is TCPLine ? configuration.byteTimeout : .zero
        rtuReader = RTUAnswerReader(responseTimeout: configuration.responseTimeout, byteTimeout: configuration.byteTimeout,
                                    silence: configuration.interFrameSilence)
        asciiReader = ASCIIAnswerReader(responseTimeout: configuration.responseTimeout, byteTimeout: configuration.byteTimeout)
    }

    deinit { line.close() }

    /// The framed line `configuration` asks for, opened; nil where libmodbus serves the target
    /// (RTU on a serial line, Modbus TCP).
    static func open(_ configuration: BusConfiguration) throws(ModbusError) -> FramedLine? {
        let target = configuration.target
        switch target {
        case let .rtu(path, settings) where configuration.framing == .ascii:
            do {
                let port = try SerialPort.open(path: path, settings: settings)
                return FramedLine(line: port, framing: .ascii, rs485Status: port.rs485Status, configuration: configuration)
            } catch {
                throw ModbusError(.connectFailed(error.description), target: target.description)
            }
        case let .rtuOverTCP(host, port):
            // Connected within the response timeout, as libmodbus does for Modbus TCP.
            do {
                let socket = try TCPLine.connect(host: host, port: port, timeout: configuration.responseTimeout)
                return FramedLine(line: socket, framing: configuration.framing, rs485Status: nil, configuration: configuration)
            } catch {
                throw ModbusError(.connectFailed("\(host):\(port): \(error)"), target: target.description)
            }
        case .rtu, .tcp:
            return nil
        }
    }

    /// The frame that carries `pdu` to `unit`, in this line's framing.
    private func frame(unit: UInt8, pdu: [UInt8]) -> [UInt8] {
        switch framing {
        case .rtu: ModbusPDU.rtuFrame(unit: unit, pdu: pdu)
        case .ascii: ASCIIFrame.encode(unit: unit, pdu: pdu)
        }
    }

    /// Sends `request` to `unit` and reads and checks its answer.
    func perform(_ request: ModbusRequest, unit: UInt8) throws(ModbusError) -> ModbusConnection.Answer {
        let pdu = ModbusPDU.encode(request)
        let sent = [unit] + pdu
        let verdict: RTUAnswer.Verdict
        var lastByteAt: ContinuousClock.Instant?
        var stray = 0
        do {
            let wire = frame(unit: unit, pdu: pdu)
            try line.writeFrame(wire)
            let sentAt = ContinuousClock.now
            if recordsFrames { lastFrames = FrameBytes(request: wire) }
            defer {
                if recordsFrames {
                    lastFrames.answer = framing == .rtu ? rtuReader.bytes : [ASCIIFrame.start] + asciiReader.characters
                }
            }
            switch framing {
            case .rtu:
                lastByteAt = try rtuReader.receive(on: line, sentAt: sentAt)
                verdict = RTUAnswer.check(rtuReader.bytes, request: request, unit: unit, sent: sent)
            case .ascii:
                let (ending, last) = try asciiReader.receive(on: line, sentAt: sentAt)
                lastByteAt = last
                stray = asciiReader.strayBytes
                verdict = asciiVerdict(ending, request: request, unit: unit, sent: sent)
            }
        } catch {
            throw ModbusError(.io(error), target: target).at(unit: unit, request: request)
        }
        switch verdict {
        case let .accepted(response, strayBytes):
            return ModbusConnection.Answer(response: response, strayBytes: strayBytes + stray, lastByteAt: lastByteAt)
        case let .rejected(kind):
            throw ModbusError(kind, target: target).at(unit: unit, request: request)
        }
    }

    private func asciiVerdict(_ ending: ASCIIAnswerReader.Ending, request: ModbusRequest, unit: UInt8, sent: [UInt8]) -> RTUAnswer.Verdict {
        let characters = asciiReader.characters
        switch ending {
        case .noStart:
            return .rejected(.timeout)
        case .cutShort:
            return .rejected(.invalidFrame("cut short: no character for the inter-character timeout after \(characters.count) characters of the ASCII frame, before CR LF"))
        case .tooLong:
            return .rejected(.invalidFrame("too long: more than \(ASCIIFrame.characterLimit) characters after ':' and no CR LF"))
        case .frame:
            switch ASCIIFrame.decode(characters[...]) {
            case let .failure(refusal): return .rejected(refusal.kind)
            case let .success(bytes): return ASCIIFrame.check(bytes, request: request, unit: unit, sent: sent)
            }
        }
    }

    /// Sends a broadcast frame (unit 0); no device answers one.
    func sendBroadcast(_ request: ModbusRequest) throws(ModbusError) {
        do {
            try line.writeFrame(frame(unit: ModbusRequest.Limits.broadcastUnit, pdu: ModbusPDU.encode(request)))
        } catch {
            throw ModbusError(.io(error), target: target).at(unit: 0, request: request)
        }
    }

    /// Drops what is still arriving (a late answer, the rest of a broken one): how many bytes.
    func resynchronize(quiet: Duration) throws(ModbusError) -> Int {
        do {
            return try line.dropPending(quiet: max(quiet, drainQuiet), limit: responseTimeout)
        } catch {
            throw ModbusError(.io(error), target: target)
        }
    }

    func close() { line.close() }
}
