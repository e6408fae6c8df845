/// A fault the simulator injects into its answers, for tests of the master's error handling.
/// Each is one thing a real device, adapter or line gets wrong.
package enum SimulatedFault: Sendable, Equatable {
    /// The device ignores the request (and does not act on it).
    case noAnswer
    /// The device acts on the request and answers after this delay.
    case lateAnswer(Duration)
    /// The answer's CRC is wrong (its LRC on ASCII; on TCP, which has neither: its MBAP
    /// transaction id is).
    case corruptChecksum
    /// The device answers with this exception instead (any code, 00 and undefined ones too).
    case exception(ModbusExceptionCode)
    /// The device acts on the request, sends the first half of its answer, and stops.
    case truncatedAnswer
    /// The device acts on the request and answers once `releaseHeldAnswers()` is called
    /// (or after 60 s), so that a test can fill the master's queue behind it.
    case heldAnswer
    /// The answer carries this unit id instead of the one asked (a valid frame otherwise).
    case answerFromUnit(UInt8)
    /// The answer carries this function code; the rest of its PDU is the right answer's.
    case answerWithFunction(UInt8)
    /// The answer's byte count says this; the data that follows is the right answer's.
    case byteCount(UInt8)
    /// These bytes are added to the answer before its CRC: a frame longer than its header says.
    case extraBytes([UInt8])
    /// A good answer, followed on the line by these bytes (noise, another talker).
    case trailingBytes([UInt8])
    /// These bytes (noise, as a device's driver turns on) come before a good answer.
    case leadingBytes([UInt8])
    /// These bytes come back instead of an answer.
    case garbage([UInt8])
    /// The request comes back unchanged instead of an answer, as from an RS-485 adapter that
    /// echoes what it sends.
    case echo
}

extension SimulatedFault {
    /// The unit id the answer carries.
    func answerUnit(_ unit: UInt8) -> UInt8 {
        if case let .answerFromUnit(other) = self { return other }
        return unit
    }

    /// The answer's PDU as the faulty device builds it from the right one.
    func answerPDU(_ pdu: [UInt8]) -> [UInt8] {
        var altered = pdu
        switch self {
        case let .answerWithFunction(function) where !altered.isEmpty: altered[0] = function
        case let .byteCount(count) where altered.count >= 2: altered[1] = count
        case let .extraBytes(extra): altered += extra
        default: break
        }
        return altered
    }

    /// The bytes that go on the line, from the whole answer frame and the request it answers.
    func wireBytes(answer frame: [UInt8], request: [UInt8]) -> [UInt8] {
        switch self {
        case .truncatedAnswer: Array(frame.prefix(max(2, frame.count / 2)))
        case let .trailingBytes(extra): frame + extra
        case let .leadingBytes(noise): noise + frame
        case let .garbage(bytes): bytes
        case .echo: request
        default: frame
        }
    }
}
