import CModbus
import Glibc
import Serial
import POSIX

/// One libmodbus context on one open line. The only file that calls libmodbus.
///
/// Not thread-safe, like the context it wraps: a `Bus` creates it, uses it and closes it on its
/// own thread. For RTU the line is opened by `SerialPort` (exclusive open, termios verified,
/// RS-485) and libmodbus only borrows the descriptor; for TCP libmodbus owns its socket.
final class ModbusConnection {
    let target: ModbusTarget
    private var context: OpaquePointer?
    private var port: SerialPort?
    private let responseTimeout: Duration

    private init(target: ModbusTarget, context: OpaquePointer, responseTimeout: Duration) {
        self.target = target
        self.context = context
        self.responseTimeout = responseTimeout
    }

    deinit { close() }

    /// What RS-485 mode the line runs in (RTU), for the log.
    var rs485Status: RS485Status? { port?.rs485Status }

    /// Opens the line and applies the timeouts.
    static func open(_ configuration: BusConfiguration) throws(ModbusError) -> ModbusConnection {
        let target = configuration.target
        let failure = { (detail: String) in ModbusError(.connectFailed(detail), target: target.description) }
        let newContext: OpaquePointer?
        switch target {
        case let .rtu(path, settings):
            newContext = modbus_new_rtu(path, Int32(settings.baudRate.rawValue), CChar(bitPattern: settings.parity.letter.asciiValue ?? UInt8(ascii: "N")),
                                        Int32(settings.dataBits.rawValue), Int32(settings.stopBits.rawValue))
        case let .tcp(host, port):
            newContext = modbus_new_tcp_pi(host, String(port))
        }
        guard let newContext else { throw failure("libmodbus refused the settings: \(Errno.current)") }
        let connection = ModbusConnection(target: target, context: newContext, responseTimeout: configuration.responseTimeout)
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
        case .tcp:
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

    /// Runs one request and waits for its answer. The request has been validated.
    func perform(_ request: ModbusRequest, unit: UInt8) throws(ModbusError) -> ModbusResponse {
        guard let context else { throw closedError.at(unit: unit, request: request) }
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
            throw ModbusError(Self.kind(errno: code, elapsed: elapsed, responseTimeout: responseTimeout), target: target.description)
                .at(unit: unit, request: request)
        }
        return response
    }

    /// Sends a broadcast frame (unit 0); no device answers one.
    func sendBroadcast(_ request: ModbusRequest) throws(ModbusError) {
        guard let context else { throw closedError.at(unit: 0, request: request) }
        let frame = [ModbusRequest.Limits.broadcastUnit] + ModbusPDU.encode(request)
        if modbus_send_raw_request(context, frame, Int32(frame.count)) == -1 {
            throw ModbusError(.io(Errno.current), target: target.description).at(unit: 0, request: request)
        }
    }

    /// After a failed transaction: drop what is still arriving so that a late answer is not
    /// taken for the answer to the next request.
    func resynchronize(quiet: Duration) throws(ModbusError) {
        guard let context else { throw closedError }
        if let port {
            do {
                try port.drainUntilQuiet(quiet: quiet, limit: responseTimeout)
                try port.discardInput()
            } catch {
                throw ModbusError(.io(Self.ioErrno(of: error)), target: target.description)
            }
        } else if modbus_flush(context) == -1 {
            throw ModbusError(.io(Errno.current), target: target.description)
        }
    }

    private static func ioErrno(of error: SerialError) -> Errno {
        if case let .ioFailed(_, _, code) = error { return code }
        return Errno(rawValue: EIO)
    }

    /// Closes the line. libmodbus never closes an RTU descriptor it borrowed.
    func close() {
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

    /// Maps libmodbus's errno to an error kind.
    ///
    /// libmodbus reports a frame cut short the same way as no answer (ETIMEDOUT). It waits the
    /// response timeout for the first byte and the byte timeout after each byte, so a timeout
    /// that came before the response timeout had passed can only be a byte timeout: the
    /// answer started and stopped.
    static func kind(errno code: Int32, elapsed: Duration, responseTimeout: Duration) -> ModbusError.Kind {
        let exceptionBase = modbridge_modbus_errno_base()
        if code > exceptionBase && code < exceptionBase + modbridge_modbus_exception_max() {
            return .exception(ModbusExceptionCode(rawValue: UInt8(code - exceptionBase)))
        }
        switch code {
        case ETIMEDOUT:
            if elapsed < responseTimeout {
                return .invalidFrame("answer cut short: bytes stopped before the frame was complete")
            }
            return .timeout
        case modbridge_embbadcrc(): return .crcMismatch
        case modbridge_embbaddata(): return .invalidFrame("answer does not match the request (length, address or function)")
        case modbridge_embbadexc(), modbridge_embunkexc(): return .invalidFrame("invalid exception code in the answer")
        case modbridge_embbadslave(): return .invalidFrame("answer from another unit")
        case modbridge_embmdata(): return .invalidRequest("too many values for one request")
        default: return .io(Errno(rawValue: code))
        }
    }
}
