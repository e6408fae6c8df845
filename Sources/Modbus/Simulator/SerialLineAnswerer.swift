import POSIX

/// The controller side of a serial framing, RTU or ASCII, for the simulator's pty and for its
/// RTU over TCP server: takes requests off the bytes received and answers them, faults included.
struct SerialLineAnswerer {
    let core: SimulatorCore
    let framing: LineFraming

    /// A request still incomplete after this long is noise: it is dropped.
    private let incompleteFrameLimit = Duration.milliseconds(100)
    /// An RTU frame whose length the function code does not tell ends after this much silence.
    static let unknownFrameSilence = Duration.milliseconds(5)

    /// Takes one whole frame off the front of `buffer` (the line quiet for `quiet` since its last
    /// byte), or nil if none is complete. The frame is checked when it is answered.
    func nextFrame(_ buffer: inout [UInt8], quietFor quiet: Duration) -> [UInt8]? {
        switch framing {
        case .rtu: nextRTUFrame(&buffer, quietFor: quiet)
        case .ascii: nextASCIIFrame(&buffer, quietFor: quiet)
        }
    }

    private func nextRTUFrame(_ buffer: inout [UInt8], quietFor quiet: Duration) -> [UInt8]? {
        guard buffer.count >= 2 else {
            if !buffer.isEmpty && quiet > incompleteFrameLimit { buffer.removeAll() }
            return nil
        }
        let expected: Int?
        switch buffer[1] {
        case 1...6: expected = 8
        case 15, 16: expected = buffer.count >= 7 ? 9 + Int(buffer[6]) : nil
        case 23: expected = buffer.count >= 11 ? 13 + Int(buffer[10]) : nil
        default: expected = quiet >= Self.unknownFrameSilence ? buffer.count : nil
        }
        guard let expected, buffer.count >= expected else {
            if quiet > incompleteFrameLimit { buffer.removeAll() }
            return nil
        }
        let frame = Array(buffer.prefix(expected))
        buffer.removeFirst(expected)
        return frame
    }

    /// `:` to CR LF. Bytes before `:` are noise; a `:` inside a frame starts a new one (Modbus
    /// over Serial Line §2.5.2.1).
    private func nextASCIIFrame(_ buffer: inout [UInt8], quietFor quiet: Duration) -> [UInt8]? {
        while true {
            guard let start = buffer.firstIndex(of: ASCIIFrame.start) else {
                buffer.removeAll()
                return nil
            }
            buffer.removeFirst(start)
            var index = 1
            while index < buffer.count {
                if buffer[index] == ASCIIFrame.start { break }
                if buffer[index] == ASCIIFrame.lineFeed && buffer[index - 1] == ASCIIFrame.carriageReturn {
                    let frame = Array(buffer.prefix(index + 1))
                    buffer.removeFirst(index + 1)
                    return frame
                }
                index += 1
            }
            if index < buffer.count {
                buffer.removeFirst(index)  // restarted at the new ':'
                continue
            }
            if quiet > incompleteFrameLimit { buffer.removeAll() }
            return nil
        }
    }

    /// Answers `frame` through `write`; false if writing failed (the master went away).
    /// A frame whose CRC or LRC is wrong is for no one: no answer (§2.5.1.2, §2.5.2.2).
    /// `beforeAnswer` gets the answer's length before it is logged as answered and written (a
    /// simulated line's timing waits there).
    func answer(_ frame: [UInt8], beforeAnswer: (Int) -> Void = { _ in }, write: ([UInt8]) throws(Errno) -> Void) -> Bool {
        let unit: UInt8
        let pdu: ArraySlice<UInt8>
        switch framing {
        case .rtu:
            guard ModbusPDU.hasValidCRC(frame[...]) else { return true }
            unit = frame[0]
            pdu = frame[1..<frame.count - 2]
        case .ascii:
            guard case let .success(bytes) = ASCIIFrame.decode(frame[1..<frame.count - 2]) else { return true }
            unit = bytes[0]
            pdu = bytes[1..<bytes.count - 1]
        }
        let (decision, index) = core.receive(unit: unit, pdu: pdu, frame: frame,
                                             broadcast: unit == ModbusRequest.Limits.broadcastUnit, unknownUnitAnswer: nil)
        guard case let .answer(responsePDU, fault) = decision else { return true }
        let answerUnit = fault?.answerUnit(unit) ?? unit
        let answerPDU = fault?.answerPDU(responsePDU) ?? responsePDU
        var response: [UInt8]
        switch framing {
        case .rtu:
            response = ModbusPDU.rtuFrame(unit: answerUnit, pdu: answerPDU)
            if fault == .corruptChecksum { response[response.count - 1] ^= 0xFF }
        case .ascii:
            response = ASCIIFrame.encode(unit: answerUnit, pdu: answerPDU)
            if fault == .corruptChecksum {
                // The LRC's low hex digit, before CR LF, changed to another digit.
                let digit = response.count - 3
                response[digit] = response[digit] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            }
        }
        switch fault {
        case let .lateAnswer(delay): sleepThread(delay)
        case .heldAnswer: core.holdAnswer()
        default: break
        }
        let bytes = fault?.wireBytes(answer: response, request: frame) ?? response
        beforeAnswer(bytes.count)
        core.answering(index)
        do {
            try write(bytes)
            core.answered()
            return true
        } catch {
            return false
        }
    }
}
