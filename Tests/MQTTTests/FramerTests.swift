import MQTT
import TestSupport
import Testing

@Suite("Framer: whole packets from bytes in any chunking")
struct FramerTests {
    static let packets: [MQTTPacket] = [
        .connect(Connect(clientIdentifier: "c1", cleanSession: false, keepAlive: 30, will: Will(topic: "w", payload: [9], qos: .exactlyOnce, retain: true), username: "u", password: [1, 2])),
        .publish(Publish(topic: "x/y", payload: [UInt8](repeating: 0xAB, count: 300), qos: .atLeastOnce, packetIdentifier: 1)),
        .publishRelease(packetIdentifier: 2),
        .subscribe(Subscribe(packetIdentifier: 3, subscriptions: [Subscription(filter: "x/#", qos: .exactlyOnce)])),
        .pingRequest,
        .publish(Publish(topic: "z", payload: [])),
        .disconnect,
    ]

    static func stream() throws -> [UInt8] {
        try packets.flatMap { try $0.encoded() }
    }

    @Test("Fed one byte at a time, it yields nothing until each packet is whole")
    func oneByteAtATime() throws {
        let bytes = try Self.stream()
        var framer = MQTTFramer()
        var received: [MQTTPacket] = []
        var boundaries: [Int] = []
        var position = 0
        for packet in Self.packets {
            position += try packet.encoded().count
            boundaries.append(position)
        }
        for (index, byte) in bytes.enumerated() {
            framer.append([byte])
            while let packet = try framer.next() {
                received.append(packet)
                // A packet appears exactly when its last byte arrives.
                #expect(boundaries.contains(index + 1))
            }
        }
        #expect(received == Self.packets)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test("Fed everything at once, it yields every packet in order")
    func allAtOnce() throws {
        var framer = MQTTFramer()
        framer.append(try Self.stream())
        var received: [MQTTPacket] = []
        while let packet = try framer.next() { received.append(packet) }
        #expect(received == Self.packets)
    }

    @Test("Fed in random chunks, over many rounds, it yields the same packets")
    func randomChunks() throws {
        let bytes = try Self.stream()
        var generator = SplitMix64(seed: 42)
        for _ in 0..<200 {
            var framer = MQTTFramer()
            var received: [MQTTPacket] = []
            var offset = 0
            while offset < bytes.count {
                let size = Int(generator.next() % 64) + 1
                framer.append(bytes[offset..<min(bytes.count, offset + size)])
                offset += size
                while let packet = try framer.next() { received.append(packet) }
            }
            #expect(received == Self.packets)
        }
    }

    @Test("Read straight into its buffer in random chunks, packets from empty to 200 KB: the same packets; the buffer grows for big ones and goes when empty")
    func readIntoOwnBuffer() throws {
        var generator = SplitMix64(seed: 7)
        var packets = Self.packets
        for size in [0, 1, 100, 1023, 1024, 5000, 70_000, 200_000] {
            packets.append(.publish(Publish(topic: "big/\(size)", payload: (0..<size).map { UInt8(truncatingIfNeeded: $0) },
                                            qos: .atLeastOnce, packetIdentifier: UInt16(size % 60_000 + 1))))
            packets.append(.pingRequest)
        }
        let bytes = try packets.flatMap { try $0.encoded() }
        for round in 0..<20 {
            var framer = MQTTFramer()
            var received: [MQTTPacket] = []
            var offset = 0
            while offset < bytes.count {
                // Chunks from one byte to more than the space offered (the read takes what fits).
                let wanted = Int(generator.next() % (round.isMultiple(of: 2) ? 64 : 100_000)) + 1
                var offered = 0
                let result = framer.read { space -> Int? in
                    offered = space.count
                    let count = min(wanted, space.count, bytes.count - offset)
                    bytes.withUnsafeBytes { source in
                        space.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<offset + count]))
                    }
                    return count
                }
                let (count, filledSpace) = try #require(result)
                #expect(count >= 1 && filledSpace == (count == offered) && offered <= 65_536)
                offset += count
                while let packet = try framer.next() { received.append(packet) }
                #expect(framer.bufferSize <= 512 * 1024)
            }
            #expect(received == packets)
            #expect(framer.bufferedByteCount == 0)
            framer.releaseMemoryIfEmpty()
            #expect(framer.bufferSize == 0)
        }
    }

    @Test("A read that finds nothing (nil) keeps the framer as it was; a partial packet survives a release")
    func readNothing() throws {
        var framer = MQTTFramer()
        #expect(framer.read { _ in nil } == nil)
        let bytes = try MQTTPacket.publish(Publish(topic: "a", payload: [1, 2, 3])).encoded()
        framer.append(bytes.prefix(3))
        framer.releaseMemoryIfEmpty()
        #expect(framer.bufferedByteCount == 3)
        framer.append(bytes.dropFirst(3))
        #expect(try framer.next() == .publish(Publish(topic: "a", payload: [1, 2, 3])))
        #expect(try framer.next() == nil)
    }

    @Test("nextInbound: a PUBLISH's payload is a slice of the buffer, equal to what next() copies out")
    func inboundPublish() throws {
        let publish = Publish(topic: "x/y", payload: Array(0..<100), qos: .atLeastOnce, retain: true, packetIdentifier: 77)
        var framer = MQTTFramer()
        framer.append(try MQTTPacket.publish(publish).encoded() + MQTTPacket.pingRequest.encoded())
        guard case let .publish(inbound)? = try framer.nextInbound() else {
            Issue.record("expected a PUBLISH")
            return
        }
        #expect(inbound.topic == "x/y" && inbound.qos == .atLeastOnce && inbound.retain && inbound.packetIdentifier == 77)
        #expect(Array(inbound.payload) == publish.payload && inbound.payload.startIndex == 9)
        #expect(inbound.publish == publish && InboundPacket.publish(inbound).packet == .publish(publish))
        #expect(try framer.nextInbound() == .other(.pingRequest))
    }

    @Test("A repeated topic name is taken again only for the same bytes: same-length names that break a rule are still refused")
    func repeatedTopic() throws {
        var framer = MQTTFramer()
        func publish(_ topic: [UInt8]) -> [UInt8] {
            [0x30, UInt8(2 + topic.count + 1), 0, UInt8(topic.count)] + topic + [9]
        }
        framer.append(publish(Array("a/b".utf8)) + publish(Array("a/b".utf8)) + publish(Array("a/c".utf8)) + publish(Array("a/b".utf8)))
        var topics: [String] = []
        while let packet = try framer.next() {
            if case let .publish(received) = packet { topics.append(received.topic) }
        }
        #expect(topics == ["a/b", "a/b", "a/c", "a/b"])
        let refused: [([UInt8], MQTTError)] = [
            (Array("a/+".utf8), .wildcardInTopicName("a/+")),
            (Array("a/#".utf8), .wildcardInTopicName("a/#")),
            ([0x61, 0x2F, 0x00], .nullCharacter(field: "topic name")),
            ([0x61, 0x2F, 0xFF], .invalidUTF8(field: "topic name")),
        ]
        for (topic, error) in refused {
            var framer = MQTTFramer()
            framer.append(publish(Array("a/b".utf8)) + publish(topic))
            _ = try framer.next()
            #expect(throws: error) { _ = try framer.next() }
        }
    }
}
