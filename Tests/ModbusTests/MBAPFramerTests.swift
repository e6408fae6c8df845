import Modbus
import Testing

/// The bus server's MBAP framing and PDU handling, without sockets ("Modbus Messaging on TCP/IP
/// Implementation Guide V1.0b", section 3.1.3; "Modbus Application Protocol V1.1b3", section 6).
@Suite("MBAP framer and the server's PDUs")
struct MBAPFramerTests {
    /// Read holding registers 0x006B+3 of unit 0x11, transaction 0x0001 (the spec's example request).
    static let readFrame: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03]
    /// Write register 1 = 0x0003 on unit 1, transaction 0x0002.
    static let writeFrame: [UInt8] = [0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x06, 0x00, 0x01, 0x00, 0x03]

    private func frames(_ framer: inout MBAPFramer) throws -> [MBAPFrame] {
        var frames: [MBAPFrame] = []
        while let frame = try framer.next() { frames.append(frame) }
        return frames
    }

    @Test("A whole frame gives its transaction id, unit and PDU; bytes survive a round trip")
    func wholeFrame() throws {
        var framer = MBAPFramer(source: "test")
        framer.append(Self.readFrame)
        let frames = try frames(&framer)
        #expect(frames == [MBAPFrame(transactionID: 1, unit: 0x11, pdu: [0x03, 0x00, 0x6B, 0x00, 0x03])])
        #expect(frames.first?.bytes == Self.readFrame)
        #expect(framer.bufferedCount == 0)
    }

    @Test("A frame split at every byte comes out once, when its last byte is in")
    func splitFrames() throws {
        for cut in 1..<Self.readFrame.count {
            var framer = MBAPFramer(source: "test")
            framer.append(Self.readFrame[..<cut])
            #expect(try framer.next() == nil, "a frame came out after \(cut) bytes")
            framer.append(Self.readFrame[cut...])
            #expect(try frames(&framer).map(\.transactionID) == [1])
        }
        // Byte by byte.
        var framer = MBAPFramer(source: "test")
        var out: [MBAPFrame] = []
        for byte in Self.readFrame + Self.writeFrame {
            framer.append([byte])
            out += try frames(&framer)
        }
        #expect(out.map(\.transactionID) == [1, 2])
    }

    @Test("Frames coalesced in one read come out in order, a trailing partial one waits")
    func coalescedFrames() throws {
        var framer = MBAPFramer(source: "test")
        framer.append(Self.readFrame + Self.writeFrame + Self.readFrame.prefix(5))
        #expect(try frames(&framer).map(\.transactionID) == [1, 2])
        #expect(framer.bufferedCount == 5)
        framer.append(Self.readFrame.dropFirst(5))
        #expect(try frames(&framer).map(\.transactionID) == [1])
    }

    @Test("A protocol id other than 0 is an error once the header is in")
    func badProtocolID() throws {
        var framer = MBAPFramer(source: "client 192.0.2.7")
        var frame = Self.readFrame
        frame[3] = 1
        framer.append(frame.prefix(5))
        #expect(try framer.next() == nil)
        framer.append(frame.dropFirst(5))
        #expect(throws: ModbusError(.invalidFrame("MBAP protocol id 1, expected 0 (Modbus)"), target: "client 192.0.2.7")) {
            try framer.next()
        }
    }

    @Test("A length past 254 (a PDU over 253 bytes) or under 2 is an error before the body comes",
          arguments: [255, 0x1000, 0xFFFF, 0, 1])
    func badLength(length: Int) throws {
        var framer = MBAPFramer(source: "test")
        framer.append([0x00, 0x09, 0x00, 0x00, UInt8(length >> 8), UInt8(length & 0xFF)])
        #expect(throws: ModbusError(.invalidFrame("MBAP length \(length) outside 2...254"), target: "test")) {
            try framer.next()
        }
    }

    @Test("The largest PDU (253 bytes) is a frame")
    func largestFrame() throws {
        var framer = MBAPFramer(source: "test")
        let frame = MBAPFrame(transactionID: 7, unit: 1, pdu: [0x10] + [UInt8](repeating: 0, count: 252))
        framer.append(frame.bytes)
        #expect(try frames(&framer) == [frame])
    }

    // MARK: - PDUs

    @Test("Each function's request PDU decodes into the request the master side encodes it from")
    func requestRoundTrip() {
        let requests: [ModbusRequest] = [
            .readCoils(address: 19, count: 19), .readDiscreteInputs(address: 196, count: 22),
            .readHoldingRegisters(address: 107, count: 3), .readInputRegisters(address: 8, count: 125),
            .writeSingleCoil(address: 172, value: true), .writeSingleCoil(address: 3, value: false),
            .writeSingleRegister(address: 1, value: 3), .writeMultipleCoils(address: 19, values: [true, false, true, true, false, false, true, true, true, false]),
            .writeMultipleRegisters(address: 1, values: [0x000A, 0x0102]),
            .readWriteMultipleRegisters(readAddress: 3, readCount: 6, writeAddress: 14, values: [0x00FF, 0x00FF, 0x00FF]),
        ]
        for request in requests {
            #expect(ModbusPDU.decodeRequest(ModbusPDU.encode(request)[...]) == .success(request), "\(request.summary)")
        }
    }

    @Test("Malformed requests get the specification's exception codes")
    func malformedRequests() {
        #expect(ModbusPDU.decodeRequest([0x08, 0x00, 0x00, 0x12, 0x34][...]) == .failure(.illegalFunction))   // diagnostics: not passed
        #expect(ModbusPDU.decodeRequest([0x2B, 0x0E, 0x01, 0x00][...]) == .failure(.illegalFunction))
        #expect(ModbusPDU.decodeRequest([0x03, 0x00, 0x00, 0x00][...]) == .failure(.illegalDataValue))        // short
        #expect(ModbusPDU.decodeRequest([0x03, 0x00, 0x00, 0x00, 126][...]) == .failure(.illegalDataValue))   // 126 registers
        #expect(ModbusPDU.decodeRequest([0x03, 0x00, 0x00, 0x00, 0][...]) == .failure(.illegalDataValue))     // none
        #expect(ModbusPDU.decodeRequest([0x03, 0xFF, 0xFF, 0x00, 2][...]) == .failure(.illegalDataAddress))   // past 65535
        #expect(ModbusPDU.decodeRequest([0x05, 0x00, 0x01, 0x12, 0x34][...]) == .failure(.illegalDataValue))  // coil value
        #expect(ModbusPDU.decodeRequest([0x10, 0x00, 0x01, 0x00, 0x02, 0x03, 0, 1, 0][...]) == .failure(.illegalDataValue))  // byte count
    }

    @Test("Responses are encoded as a device sends them: data for reads, the echo for writes")
    func responses() {
        #expect(ModbusPDU.encodeResponse(.registers([0x022B, 0x0000, 0x0064]), to: .readHoldingRegisters(address: 107, count: 3))
            == [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64])
        #expect(ModbusPDU.encodeResponse(.bits([true, false, true, true, false, false, true, true, true, true, false]), to: .readCoils(address: 19, count: 11))
            == [0x01, 0x02, 0xCD, 0x03])
        #expect(ModbusPDU.encodeResponse(.written, to: .writeSingleRegister(address: 1, value: 3)) == [0x06, 0x00, 0x01, 0x00, 0x03])
        #expect(ModbusPDU.encodeResponse(.written, to: .writeSingleCoil(address: 0xAC, value: true)) == [0x05, 0x00, 0xAC, 0xFF, 0x00])
        #expect(ModbusPDU.encodeResponse(.written, to: .writeMultipleRegisters(address: 1, values: [10, 258])) == [0x10, 0x00, 0x01, 0x00, 0x02])
        #expect(ModbusPDU.encodeResponse(.written, to: .writeMultipleCoils(address: 19, values: Array(repeating: true, count: 10)))
            == [0x0F, 0x00, 0x13, 0x00, 0x0A])
        // An answer that does not fit the request is not encoded (the server answers 0x0B).
        #expect(ModbusPDU.encodeResponse(.registers([1]), to: .readHoldingRegisters(address: 0, count: 2)) == nil)
        #expect(ModbusPDU.encodeResponse(.written, to: .readInputRegisters(address: 0, count: 1)) == nil)
        #expect(ModbusPDU.exceptionResponse(function: 3, .gatewayPathUnavailable) == [0x83, 0x0A])
    }
}
