import Serial
import POSIX

/// A Modbus exception code from a device's exception response (function code | 0x80).
package struct ModbusExceptionCode: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    package static let illegalFunction = ModbusExceptionCode(rawValue: 0x01)
    package static let illegalDataAddress = ModbusExceptionCode(rawValue: 0x02)
    package static let illegalDataValue = ModbusExceptionCode(rawValue: 0x03)
    package static let serverDeviceFailure = ModbusExceptionCode(rawValue: 0x04)
    package static let acknowledge = ModbusExceptionCode(rawValue: 0x05)
    package static let serverDeviceBusy = ModbusExceptionCode(rawValue: 0x06)
    package static let negativeAcknowledge = ModbusExceptionCode(rawValue: 0x07)
    package static let memoryParityError = ModbusExceptionCode(rawValue: 0x08)
    package static let gatewayPathUnavailable = ModbusExceptionCode(rawValue: 0x0A)
    package static let gatewayTargetFailedToRespond = ModbusExceptionCode(rawValue: 0x0B)

    /// The name the Modbus Application Protocol specification gives the code.
    package var name: String {
        switch rawValue {
        case 0x01: "illegal function"
        case 0x02: "illegal data address"
        case 0x03: "illegal data value"
        case 0x04: "server device failure"
        case 0x05: "acknowledge"
        case 0x06: "server device busy"
        case 0x07: "negative acknowledge"
        case 0x08: "memory parity error"
        case 0x0A: "gateway path unavailable"
        case 0x0B: "gateway target device failed to respond"
        default: "unknown exception"
        }
    }

    package var description: String {
        "exception \(rawValue < 0x10 ? "0" : "")\(String(rawValue, radix: 16, uppercase: true)) (\(name))"
    }
}

/// What went wrong with a Modbus transaction, and where: which line, unit and request.
package struct ModbusError: Error, Equatable, Sendable, CustomStringConvertible {
    package enum Kind: Equatable, Sendable {
        /// No answer (or no complete answer) within the response timeout.
        case timeout
        /// An answer arrived whose CRC does not match its bytes.
        case crcMismatch
        /// A Modbus ASCII answer arrived whose LRC does not match its bytes (Serial Line §2.5.2.2).
        case lrcMismatch
        /// An answer arrived but is malformed: cut short, wrong length, wrong unit or function.
        case invalidFrame(String)
        /// The device answered with a Modbus exception.
        case exception(ModbusExceptionCode)
        /// The line or socket failed; the bus reopens it.
        case io(Errno)
        /// The line could not be opened or connected.
        case connectFailed(String)
        /// The bus is closed, or the line is down and waiting to be reopened.
        case linkClosed(String)
        /// Refused before anything was sent: a protocol limit or an invalid unit id.
        case invalidRequest(String)
    }

    package let kind: Kind
    /// The line: a tty path or `tcp://host:port`.
    package let target: String
    /// The unit id addressed, if the error belongs to one transaction.
    package let unit: UInt8?
    /// The request, e.g. `read holding registers 100+10`.
    package let request: String?

    package init(_ kind: Kind, target: String, unit: UInt8? = nil, request: String? = nil) {
        self.kind = kind
        self.target = target
        self.unit = unit
        self.request = request
    }

    /// The same error attributed to a transaction.
    func at(unit: UInt8, request: ModbusRequest) -> ModbusError {
        ModbusError(kind, target: target, unit: unit, request: request.summary)
    }

    /// True for an exception response: the device answered (and is there), but refused.
    package var isException: Bool {
        if case .exception = kind { return true }
        return false
    }

    /// True where the line itself failed and must be reopened.
    package var isLinkFailure: Bool {
        switch kind {
        case .io, .connectFailed, .linkClosed: true
        default: false
        }
    }

    package var reason: String {
        switch kind {
        case .timeout: "timeout (no answer)"
        case .crcMismatch: "CRC error in the answer"
        case .lrcMismatch: "LRC error in the answer (Modbus ASCII)"
        case let .invalidFrame(detail): "invalid answer: \(detail)"
        case let .exception(code): code.description
        case let .io(error): "I/O error: \(error)"
        case let .connectFailed(detail): "cannot open the line: \(detail)"
        case let .linkClosed(detail): "line closed: \(detail)"
        case let .invalidRequest(detail): "invalid request: \(detail)"
        }
    }

    package var description: String {
        var location = target
        if let unit { location += " unit \(unit)" }
        if let request { location += " \(request)" }
        return "\(location): \(reason)"
    }
}
