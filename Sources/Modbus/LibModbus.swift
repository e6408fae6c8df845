import CModbus
import Glibc
import Serial
import POSIX

/// One libmodbus context on one open line. The only file that calls libmodbus.
///
/// Not thread-safe, like the context it wraps: a `Bus` creates it, uses it and closes it on its
/// own thread. For RTU the line is opened by `SerialPort` (exclusive open, termios verified,
/// RS-485) and libmodbus only borrows the descriptor; for TCP libmodbus owns its socket.
/// Modbus ASCII and RTU over TCP, which libmodbus does not do, go to a `FramedLine` instead.
final class ModbusConnection {
    let target: ModbusTarget
    private var context: OpaquePointer?
    private var port: SerialPort?
    /// The line when modbridge frames it itself (ASCII, RTU over TCP); then there is no context.
    private var framed: FramedLine?
    private let responseTimeout: Duration
    /// RTU answers are read by modbridge itself, so that every byte read is there to say what is
    /// wrong with a broken answer; libmodbus sends the requests.
    private let answerReader: RTUAnswerReader
    /// While true, each transaction leaves its bytes in `lastFrames`, for a frame trace.
    var recordsFrames = false {
        didSet { framed?.recordsFrames = recordsFrames }
    }
    /// The last transaction's request and answer bytes (while `recordsFrames`).
    var lastFrames: FrameBytes { framed?.lastFrames ?? libmodbusFrames }
    private var libmodbusFrames = FrameBytes()

    private init(target: ModbusTarget, context: OpaquePointer, configuration: BusConfiguration) {
        self.target = target
        self.context = context
        self.responseTimeout = configuration.responseTimeout
        answerReader = RTUAnswerReader(responseTimeout: configuration.responseTimeout, byteTimeout: configuration.byteTimeout,
                                       silence: configuration.interFrameSilence)
    }

    private init(framed: FramedLine, configuration: BusConfiguration) {
        target = configuration.target
        self.framed = framed
        responseTimeout = configuration.responseTimeout
        answerReader = RTUAnswerReader(responseTimeout: configuration.responseTimeout, byteTimeout: configuration.byteTimeout,
                                       silence: configuration.interFrameSilence)
    }

    deinit { close() }

    /// What RS-485 mode the line runs in (serial lines), for the log.
    var rs485Status: RS485Status? { port?.rs485Status ?? framed?.rs485Status }

    /// A USB serial adapter's latency timer and low-latency mode (RTU on /dev/ttyUSB*), for the log.
    var usbLatency: USBLatencyStatus? { port?.usbLatency }

    /// Opens the line and applies the timeouts.
    static func open(_ configuration: BusConfiguration) throws(ModbusError) -> ModbusConnection {
        if let framed = try FramedLine.open(configuration) { return ModbusConnection(framed: framed, configuration: configuration) }
        let target = configuration.target
        let failure = { (detail: String) in ModbusError(.connectFailed(detail), target: target.description) }
        let newContext: OpaquePointer?
        switch target {
        case let .rtu(path, settings):
            newContext = modbus_new_rtu(path, Int32(settings.baudRate.rawValue), CChar(bitPattern: settings.parity.letter.asciiValue ?? UInt8(ascii: "N")),
                                        Int32(settings.dataBits.rawValue), Int32(settings.stopBits.rawValue))
        case let .tcp(host, port):
            newContext = modbus_new_tcp_pi(host, String(port))
        case .rtuOverTCP:
            throw failure("RTU over TCP has no libmodbus context")  // FramedLine opened it above
        }
        guard let newContext else { throw failure("libmodbus refused the settings: \(Errno.current)") }
        let connection = ModbusConnection(target: target, context: newContext, configuration: configuration)
        try connection.setTimeouts(response: configuration.responseTimeout, byte: configuration.byteTimeout)
        switch target {
        case let .rtu(path, settings):
            do {
                let port = try SerialPort.open(path: path, settings: settings)
                connection.port = port
                _ = modbus_set_socket(newContext, port.fileDescriptor)
            } catch {
                throw failure(error.description)
            }
        case .tcp, .rtuOverTCP:
            if modbus_connect(newContext) == -1 {
                throw failure(Errno.current.description)
            }
        }
        return connection
    }

    private func setTimeouts(response: Duration, byte: Duration) throws(ModbusError) {
        guard let context else { throw closedError }
        let (responseSeconds, responseMicroseconds) = Self.split(response)
        let (byteSeconds, byteMicroseconds) = Self.split(byte)
        if modbus_set_response_timeout(context, responseSeconds, responseMicroseconds) == -1
            || modbus_set_byte_timeout(context, byteSeconds, byteMicroseconds) == -1 {
            throw ModbusError(.connectFailed("invalid timeouts: \(Errno.current)"), target: target.description)
        }
    }

    private static func split(_ duration: Duration) -> (UInt32, UInt32) {
        let microseconds = max(duration.microseconds, 1)
        return (UInt32(clamping: microseconds / 1_000_000), UInt32(microseconds % 1_000_000))
    }

    private var closedError: ModbusError {
        ModbusError(.linkClosed("the connection was closed"), target: target.description)
    }

    /// An answer, and what the line carried around it.
    struct Answer {
        let response: ModbusResponse
        /// Bytes that followed the answer before the line went quiet, dropped.
        let strayBytes: Int
        /// When the answer's last byte (or stray byte) came; nil on TCP.
        let lastByteAt: ContinuousClock.Instant?
    }

    /// Runs one request and waits for its answer. The request has been validated.
    func perform(_ request: ModbusRequest, unit: UInt8) throws(ModbusError) -> Answer {
        if let framed { return try framed.perform(request, unit: unit) }
        guard let context else { throw closedError.at(unit: unit, request: request) }
        if let port {
            return try performRTU(request, unit: unit, context: context, port: port)
        }
        return Answer(response: try performTCP(request, unit: unit, context: context), strayBytes: 0, lastByteAt: nil)
    }

    /// RTU: libmodbus sends the frame, `RTUAnswerReader` reads the answer and `RTUAnswer` checks it.
    private func performRTU(_ request: ModbusRequest, unit: UInt8, context: OpaquePointer, port: SerialPort) throws(ModbusError) -> Answer {
        let frame = [unit] + ModbusPDU.encode(request)
        if recordsFrames { libmodbusFrames = FrameBytes(request: ModbusPDU.rtuFrame(unit: unit, pdu: Array(frame.dropFirst()))) }
        if modbus_send_raw_request(context, frame, Int32(frame.count)) == -1 {
            throw ModbusError(.io(Self.sendErrno(errno)), target: target.description).at(unit: unit, request: request)
        }
        let lastByteAt: ContinuousClock.Instant?
        do {
            lastByteAt = try answerReader.receive(on: port, sentAt: .now)
        } catch {
            throw ModbusError(.io(error), target: target.description).at(unit: unit, request: request)
        }
        if recordsFrames { libmodbusFrames.answer = answerReader.bytes }
        switch RTUAnswer.check(answerReader.bytes, request: request, unit: unit, sent: frame) {
        case let .accepted(response, strayBytes):
            return Answer(response: response, strayBytes: strayBytes, lastByteAt: lastByteAt)
        case let .rejected(kind):
            throw ModbusError(kind, target: target.description).at(unit: unit, request: request)
        }
    }

    /// TCP: libmodbus's own calls, which check the MBAP transaction id of each answer.
    private func performTCP(_ request: ModbusRequest, unit: UInt8, context: OpaquePointer) throws(ModbusError) -> ModbusResponse {
        if recordsFrames { libmodbusFrames = FrameBytes(request: [unit] + ModbusPDU.encode(request), level: .pdu) }
        if modbus_set_slave(context, Int32(unit)) == -1 {
            throw ModbusError(.invalidRequest("unit id \(unit) refused by libmodbus"), target: target.description)
                .at(unit: unit, request: request)
        }
        let started = ContinuousClock.now
        let result: Int32
        var response = ModbusResponse.written
        switch request {
        case let .readCoils(address, count), let .readDiscreteInputs(address, count):
            var bits = [UInt8](repeating: 0, count: count)
            if case .readCoils = request {
                result = modbus_read_bits(context, Int32(address), Int32(count), &bits)
            } else {
                result = modbus_read_input_bits(context, Int32(address), Int32(count), &bits)
            }
            response = .bits(bits.map { $0 != 0 })
        case let .readHoldingRegisters(address, count), let .readInputRegisters(address, count):
            var registers = [UInt16](repeating: 0, count: count)
            if case .readHoldingRegisters = request {
                result = modbus_read_registers(context, Int32(address), Int32(count), &registers)
            } else {
                result = modbus_read_input_registers(context, Int32(address), Int32(count), &registers)
            }
            response = .registers(registers)
        case let .writeSingleCoil(address, value):
            result = modbus_write_bit(context, Int32(address), value ? 1 : 0)
        case let .writeSingleRegister(address, value):
            result = modbus_write_register(context, Int32(address), value)
        case let .writeMultipleCoils(address, values):
            let bytes = values.map { UInt8($0 ? 1 : 0) }
            result = modbus_write_bits(context, Int32(address), Int32(values.count), bytes)
        case let .writeMultipleRegisters(address, values):
            result = modbus_write_registers(context, Int32(address), Int32(values.count), values)
        case let .readWriteMultipleRegisters(readAddress, readCount, writeAddress, values):
            var registers = [UInt16](repeating: 0, count: readCount)
            result = modbus_write_and_read_registers(context, Int32(writeAddress), Int32(values.count), values,
                                                     Int32(readAddress), Int32(readCount), &registers)
            response = .registers(registers)
        }
        if result == -1 {
            let code = errno
            let elapsed = ContinuousClock.now - started
            let kind = Self.kind(errno: code, elapsed: elapsed, responseTimeout: responseTimeout)
            if recordsFrames { libmodbusFrames.answer = FrameExchange.answerPDU(unit: unit, request: request, failure: kind) }
            throw ModbusError(kind, target: target.description).at(unit: unit, request: request)
        }
        if recordsFrames { libmodbusFrames.answer = FrameExchange.answerPDU(unit: unit, request: request, response: response) }
        return response
    }

    /// Sends a broadcast frame (unit 0); no device answers one.
    func sendBroadcast(_ request: ModbusRequest) throws(ModbusError) {
        if let framed { return try framed.sendBroadcast(request) }
        guard let context else { throw closedError.at(unit: 0, request: request) }
        let frame = [ModbusRequest.Limits.broadcastUnit] + ModbusPDU.encode(request)
        if modbus_send_raw_request(context, frame, Int32(frame.count)) == -1 {
            throw ModbusError(.io(Self.sendErrno(errno)), target: target.description).at(unit: 0, request: request)
        }
    }

    /// After a failed transaction: drop what is still arriving so that a late answer is not
    /// taken for the answer to the next request. Returns how many bytes were dropped.
    func resynchronize(quiet: Duration) throws(ModbusError) -> Int {
        if let framed { return try framed.resynchronize(quiet: quiet) }
        guard let context else { throw closedError }
        if let port {
            do {
                let dropped = try port.drainUntilQuiet(quiet: quiet, limit: responseTimeout)
                try port.discardInput()
                return dropped
            } catch {
                throw ModbusError(.io(error.lineErrno), target: target.description)
            }
        }
        let dropped = modbus_flush(context)
        if dropped == -1 { throw ModbusError(.io(Errno.current), target: target.description) }
        return Int(dropped)
    }

    /// Closes the line. libmodbus never closes an RTU descriptor it borrowed.
    func close() {
        framed?.close()
        framed = nil
        guard let context else { return }
        if port != nil {
            _ = modbus_set_socket(context, -1)
            port?.close()
            port = nil
        } else {
            modbus_close(context)
        }
        modbus_free(context)
        self.context = nil
    }

    /// Why a send failed: the system's errno, or EIO where libmodbus reports a short write with
    /// one of its own numbers (EMBBADDATA), which no user should see.
    private static func sendErrno(_ code: Int32) -> Errno {
        Errno(rawValue: code >= modbridge_modbus_errno_base() ? EIO : code)
    }

    /// Maps libmodbus's errno to an error kind.
    ///
    /// libmodbus reports a frame cut short the same way as no answer (ETIMEDOUT). It waits the
    /// response timeout for the first byte and the byte timeout after each byte, so a timeout
    /// that came before the response timeout had passed can only be a byte timeout: the
    /// answer started and stopped.
    static func kind(errno code: Int32, elapsed: Duration, responseTimeout: Duration) -> ModbusError.Kind {
        if let kind = libmodbusKind(errno: code) { return kind }
        if code == ETIMEDOUT {
            if elapsed < responseTimeout {
                return .invalidFrame("answer cut short: bytes stopped before the frame was complete")
            }
            return .timeout
        }
        return .io(Errno(rawValue: code))
    }

    /// libmodbus's own error numbers (MODBUS_ENOBASE and up, modbus.h), which are no errno the
    /// system knows: each as the error it means. nil for a system errno.
    static func libmodbusKind(errno code: Int32) -> ModbusError.Kind? {
        let base = modbridge_modbus_errno_base()
        guard code >= base else { return nil }
        // check_confirmation() sets MODBUS_ENOBASE + code for every exception code below
        // MODBUS_EXCEPTION_MAX, code 0 (which no specification defines) included.
        if code < base + modbridge_modbus_exception_max() {
            return .exception(ModbusExceptionCode(rawValue: UInt8(code - base)))
        }
        switch code {
        case modbridge_embbadcrc(): return .crcMismatch
        case modbridge_embbaddata(): return .invalidFrame("answer does not match the request (length, function or values)")
        case modbridge_embbadexc(): return .invalidFrame("exception answer with an exception code above 0B or of the wrong length")
        case modbridge_embunkexc(): return .invalidFrame("unknown exception code in the answer")
        case modbridge_embbadslave(): return .invalidFrame("answer from another unit")
        case modbridge_embmdata(): return .invalidRequest("too many values for one request")
        default: return .invalidFrame("protocol error \(code - base) reported by libmodbus")
        }
    }

    /// The error numbers libmodbus 3.1 defines: MODBUS_ENOBASE through EMBBADSLAVE.
    static var libmodbusErrnoRange: ClosedRange<Int32> { modbridge_modbus_errno_base()...modbridge_embbadslave() }
}
