/// One Modbus TCP request: the MBAP header's transaction id and unit id, and the PDU
/// ("Modbus Messaging on TCP/IP Implementation Guide V1.0b", section 3.1.3).
package struct MBAPFrame: Sendable, Equatable {
    package let transactionID: UInt16
    package let unit: UInt8
    package let pdu: [UInt8]

    package init(transactionID: UInt16, unit: UInt8, pdu: [UInt8]) {
        self.transactionID = transactionID
        self.unit = unit
        self.pdu = pdu
    }

    /// The frame on the wire: transaction id, protocol id 0, length (unit id + PDU), unit id, PDU.
    package var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(MBAPFramer.headerLength + pdu.count)
        bytes.appendBigEndian(transactionID)
        bytes.appendBigEndian(0)
        bytes.appendBigEndian(UInt16(pdu.count + 1))
        bytes.append(unit)
        bytes += pdu
        return bytes
    }
}

/// Cuts a TCP byte stream into whole MBAP frames: bytes go in as they arrive (a frame split over
/// reads, several in one read), frames come out once complete. A header that cannot be Modbus
/// (a protocol id other than 0, a length outside 2...254) is an error: the stream has no
/// resynchronisation point, so the connection must be closed.
package struct MBAPFramer {
    /// Transaction id, protocol id, length, unit id.
    package static let headerLength = 7
    /// A PDU is at most 253 bytes (Application Protocol V1.1b3, section 4.1): the length field,
    /// which counts the unit id too, is at most 254.
    package static let maximumPDULength = 253

    private var buffer: [UInt8] = []
    /// Where the unread bytes begin.
    private var start = 0
    /// Who sends the stream, for errors (`tcp-client 192.0.2.7`).
    private let source: String

    package init(source: String) {
        self.source = source
    }

    /// Bytes received and not yet taken as frames (at most one incomplete frame, or frames not taken yet).
    package var bufferedCount: Int { buffer.count - start }

    /// Appends bytes as they were read.
    package mutating func append(_ bytes: some Collection<UInt8>) {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, nil until one is complete; throws for a header no Modbus client sends.
    package mutating func next() throws(ModbusError) -> MBAPFrame? {
        let available = buffer.count - start
        guard available >= 6 else { return nil }
        let protocolID = word(at: start + 2)
        guard protocolID == 0 else {
            throw ModbusError(.invalidFrame("MBAP protocol id \(protocolID), expected 0 (Modbus)"), target: source)
        }
        let length = Int(word(at: start + 4))
        guard (2...Self.maximumPDULength + 1).contains(length) else {
            throw ModbusError(.invalidFrame("MBAP length \(length) outside 2...\(Self.maximumPDULength + 1)"), target: source)
        }
        guard available >= 6 + length else { return nil }
        let frame = MBAPFrame(transactionID: word(at: start), unit: buffer[start + 6],
                              pdu: Array(buffer[(start + Self.headerLength)..<(start + 6 + length)]))
        start += 6 + length
        return frame
    }

    private func word(at index: Int) -> UInt16 {
        UInt16(buffer[index]) << 8 | UInt16(buffer[index + 1])
    }
}
