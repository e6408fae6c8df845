import HTTP
import TLS
import Testing

@Suite struct WebSocketFrameTests {
    static let hello = "Hello".bytes

    @Test func theMaskedHelloOfRFC6455Section5_7() {
        let masked: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(clientFrame(.text, Self.hello) == masked)
        for splits in everySplit(of: masked) {
            let result = frameWebSocket(masked, splits: splits)
            #expect(result.error == nil && result.frames == [WebSocketFrame(opcode: .text, payload: Self.hello)], "splits \(splits)")
        }
    }

    @Test func serverFramesOfRFC6455Section5_7() {
        var output: [UInt8] = [0xEE]
        WebSocketFrame.encode(opcode: .text, payload: Self.hello, into: &output)
        #expect(output == [0xEE, 0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        output = []
        WebSocketFrame.encode(opcode: .text, payload: "Hel".bytes, fin: false, into: &output)
        WebSocketFrame.encode(opcode: .continuation, payload: "lo".bytes, into: &output)
        #expect(output == [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F])
        output = []
        WebSocketFrame.encode(opcode: .ping, payload: Self.hello, into: &output)
        #expect(output == [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        output = []
        WebSocketFrame.encode(opcode: .close, payload: WebSocketFrame.closePayload(code: 1000), into: &output)
        #expect(output == [0x88, 0x02, 0x03, 0xE8])
    }

    @Test func serverLengthForms() {
        for (count, header) in [(125, [0x82, 0x7D]), (126, [0x82, 0x7E, 0x00, 0x7E]), (256, [0x82, 0x7E, 0x01, 0x00]),
                                (65_535, [0x82, 0x7E, 0xFF, 0xFF]),
                                (65_536, [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])] as [(Int, [UInt8])] {
            let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0) }
            var output: [UInt8] = []
            WebSocketFrame.encode(opcode: .binary, payload: payload, into: &output)
            #expect(Array(output.prefix(header.count)) == header, "payload of \(count)")
            #expect(Array(output.dropFirst(header.count)) == payload, "payload of \(count)")
        }
    }

    @Test func clientFramesOf256And65536Bytes() {
        for (count, header) in [(256, [0x82, 0xFE, 0x01, 0x00]), (65_536, [0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0, 0])] as [(Int, [UInt8])] {
            let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0 * 31) }
            let bytes = clientFrame(.binary, payload, key: [0xA1, 0xB2, 0xC3, 0xD4])
            #expect(Array(bytes.prefix(header.count + 4)) == header + [0xA1, 0xB2, 0xC3, 0xD4])
            #expect(bytes[header.count + 4] == payload[0] ^ 0xA1 && bytes[header.count + 5] == payload[1] ^ 0xB2)
            let splits: [[Int]] = count == 256 ? everySplit(of: bytes) : [[1], [2], [5], [9], [10], [13], [14], [14 + 30_000], [65_549], [3, 7, 11, 100, 65_000]]
            for split in splits {
                let result = frameWebSocket(bytes, splits: split)
                #expect(result.error == nil && result.frames == [WebSocketFrame(opcode: .binary, payload: payload)], "\(count) split at \(split)")
            }
        }
    }

    @Test func nonMinimalLengthFormsAreTaken() {
        for form in [2, 8] {
            let result = frameWebSocket(clientFrame(.binary, [1, 2, 3], lengthForm: form))
            #expect(result.frames == [WebSocketFrame(opcode: .binary, payload: [1, 2, 3])])
        }
    }

    @Test func anEmptyFrame() {
        #expect(frameWebSocket(clientFrame(.binary, [])).frames == [WebSocketFrame(opcode: .binary, payload: [])])
        #expect(frameWebSocket(clientFrame(.close, [])).frames == [WebSocketFrame(opcode: .close, payload: [])])
    }

    @Test func fragmentsWithControlFramesBetween() {
        let bytes = clientFrame(.binary, [1, 2], fin: false) + clientFrame(.ping, Self.hello) + clientFrame(.continuation, [3], fin: false)
            + clientFrame(.pong, []) + clientFrame(.continuation, [4, 5]) + clientFrame(.text, Self.hello)
        let expected = [
            WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2]), WebSocketFrame(opcode: .ping, payload: Self.hello),
            WebSocketFrame(fin: false, opcode: .continuation, payload: [3]), WebSocketFrame(opcode: .pong),
            WebSocketFrame(opcode: .continuation, payload: [4, 5]), WebSocketFrame(opcode: .text, payload: Self.hello),
        ]
        for splits in everySplit(of: bytes) {
            let result = frameWebSocket(bytes, splits: splits)
            #expect(result.error == nil && result.frames == expected, "splits \(splits)")
        }
    }

    @Test func fragmentsOutOfOrder() {
        #expect(frameWebSocket(clientFrame(.continuation, [1])).error == .badFragmentation)
        let twoStarts = clientFrame(.text, [1], fin: false) + clientFrame(.binary, [2])
        let result = frameWebSocket(twoStarts)
        #expect(result.frames.count == 1 && result.error == .badFragmentation)
        let afterEnd = clientFrame(.text, [1], fin: false) + clientFrame(.continuation, [2]) + clientFrame(.continuation, [3])
        #expect(frameWebSocket(afterEnd).error == .badFragmentation)
        #expect(frameWebSocket(afterEnd).frames.count == 2)
    }

    @Test func headerErrorsComeBeforeThePayload() {
        // Each frame is cut after its first two (or extended-length) bytes: the error needs no more.
        #expect(frameWebSocket([0x81 | 0x40, 0x85]).error == .reservedBitsSet)
        #expect(frameWebSocket([0x81 | 0x10, 0x85]).error == .reservedBitsSet)
        #expect(frameWebSocket([0x83, 0x85]).error == .unknownOpcode(3))
        #expect(frameWebSocket([0x8B, 0x80]).error == .unknownOpcode(0xB))
        #expect(frameWebSocket([0x81, 0x05]).error == .unmaskedClientFrame)
        #expect(frameWebSocket([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]).error == .unmaskedClientFrame)
        #expect(frameWebSocket([0x89, 0xFE]).error == .badControlFrame)
        #expect(frameWebSocket([0x09, 0x80]).error == .badControlFrame)
        #expect(frameWebSocket(clientFrame(.close, [UInt8](repeating: 0, count: 126))).error == .badControlFrame)
        #expect(frameWebSocket(clientFrame(.ping, [UInt8](repeating: 0, count: 125))).frames.count == 1)
        #expect(frameWebSocket([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]).error == .badLength)
        #expect(frameWebSocket([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0]).error == nil)
    }

    @Test func maximumPayloadIsHeldFromTheHeader() {
        #expect(frameWebSocket([0x82, 0xFE, 0x01, 0x01], maximumPayload: 256).error == .frameTooLarge(length: 257, limit: 256))
        #expect(frameWebSocket([0x82, 0xFF, 0, 0, 0, 0, 0xFF, 0, 0, 0], maximumPayload: 1 << 20).error
            == .frameTooLarge(length: 0xFF00_0000, limit: 1 << 20))
        #expect(frameWebSocket([0x82, 0x8B], maximumPayload: 10).error == .frameTooLarge(length: 11, limit: 10))
        let atLimit = clientFrame(.binary, [UInt8](repeating: 9, count: 256))
        #expect(frameWebSocket(atLimit, maximumPayload: 256).frames.count == 1)
        #expect(WebSocketError.frameTooLarge(length: 1, limit: 0).closeCode == 1009)
        #expect(WebSocketError.badFragmentation.closeCode == 1002)
        #expect(WebSocketError.badLength.closeCode == 1002)
    }

    @Test func framesFollowingEachOtherAndConsumedBytesDropped() throws {
        var framer = WebSocketFramer(maximumPayload: 1024)
        for index in 0..<2000 {
            let payload = [UInt8(truncatingIfNeeded: index), 7]
            framer.append(clientFrame(.binary, payload) + clientFrame(.binary, payload).prefix(3))
            #expect(try framer.next() == WebSocketFrame(opcode: .binary, payload: payload))
            #expect(try framer.next() == nil)
            framer.append(clientFrame(.binary, payload).dropFirst(3))
            #expect(try framer.next() == WebSocketFrame(opcode: .binary, payload: payload))
        }
        #expect(framer.bufferedCount == 0)
        framer.releaseMemoryIfEmpty()
        #expect(framer.bufferedCount == 0)
    }

    @Test func theAcceptValueOfRFC6455Section1_3() {
        let accept = WebSocketHandshake.acceptValue(key: "dGhlIHNhbXBsZSBub25jZQ==", sha1: { (try? Digests.sha1($0)) ?? [] },
                                                    base64: Base64.encodePadded)
        #expect(accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}
