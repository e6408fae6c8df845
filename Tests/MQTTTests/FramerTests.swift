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
}
