import MQTT
import TestSupport

/// Seeded client byte streams that mostly break the MQTT 3.1.1 rules: a CONNECT (usually valid)
/// then packets, valid, broken in one named way, mutated, or random bytes.
struct MalformedStreams {
    private var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    // A few client ids, so persistent sessions come back (session present, resent messages).
    private static let clientIDs = ["p1", "p2", "p3", "p4", "p5", "p6"]
    private static let topics = ["f/1", "f/2", "a/b", "$x/y", "f/ü"]
    private static let filters = ["#", "f/+", "f/1", "+/+", "$x/#", "a/b"]
    /// Strings 1.5.3 forbids: overlong NUL, a UTF-16 surrogate, 0xFF, a cut sequence, U+0000.
    private static let badStrings: [[UInt8]] = [[0x61, 0xC0, 0x80], [0xED, 0xA0, 0x80], [0x66, 0xFF], [0x66, 0x2F, 0xE2, 0x82], [0x61, 0x00, 0x62]]
    private static let wildcardTopics = ["f/+", "#", "a/#", "+"]
    private static let badFilters = ["a/#/b", "f+", "", "a/b#"]

    private mutating func number(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
    private mutating func chance(_ percent: Int) -> Bool { number(100) < percent }
    private mutating func pick<T>(_ options: [T]) -> T { options[number(options.count)] }
    private mutating func identifier() -> UInt16 { UInt16(1 + number(6)) }
    private mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }

    /// The next stream.
    mutating func next() -> [UInt8] {
        var stream = first()
        for _ in 0..<(1 + number(8)) { stream += item() }
        return stream
    }

    // MARK: - Encoding by hand (the encoder refuses what these must send)

    static func frame(_ header: UInt8, _ body: [UInt8]) -> [UInt8] {
        var bytes = [header]
        bytes.appendCheckedRemainingLength(body.count)
        return bytes + body
    }

    static func string(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes }
    static func string(_ text: String) -> [UInt8] { string(Array(text.utf8)) }
    static func identifierBytes(_ identifier: UInt16) -> [UInt8] { [UInt8(identifier >> 8), UInt8(identifier & 0xFF)] }

    private mutating func connect(level: UInt8 = 4, protocolName: String = "MQTT", clientID: [UInt8]? = nil, clean: Bool? = nil) -> [UInt8] {
        let clean = clean ?? chance(60)
        let will = chance(30)
        var flags: UInt8 = clean ? 0x02 : 0
        if will { flags |= 0x04 | UInt8(number(3)) << 3 | (chance(30) ? 0x20 : 0) }
        let username = chance(20)
        if username { flags |= 0x80 | (chance(50) ? 0x40 : 0) }
        var body = Self.string(protocolName) + [level, flags] + Self.identifierBytes(UInt16(number(120)))
        body += Self.string(clientID ?? Array(pick(Self.clientIDs).utf8))
        if will { body += Self.string("will/" + pick(Self.clientIDs)) + Self.string(bytes(number(8))) }
        if username { body += Self.string("user") }
        if flags & 0x40 != 0 { body += Self.string(bytes(3)) }
        return Self.frame(0x10, body)
    }

    private mutating func first() -> [UInt8] {
        switch number(100) {
        case 0..<62: return connect()
        case 62..<68: return connect(level: pick([0, 3, 5, 255]))  // CONNACK 1
        case 68..<72: return connect(clientID: [], clean: false)  // CONNACK 2
        case 72..<76: return connect(clientID: pick(Self.badStrings))
        case 76..<79: return connect(protocolName: pick(["MQIsdp", "mqtt", "MQTT\u{0}"]))
        case 79..<88: return mutate(connect())
        default: return item()  // a packet before CONNECT
        }
    }

    private mutating func publish(topic: [UInt8], qos: UInt8, identifier: UInt16) -> [UInt8] {
        let flags = qos << 1 | (chance(10) ? 0x01 : 0) | (qos > 0 && chance(10) ? 0x08 : 0)
        return Self.frame(0x30 | flags, Self.string(topic) + (qos > 0 ? Self.identifierBytes(identifier) : []) + bytes(number(16)))
    }

    private mutating func subscribe(_ filters: [[UInt8]], identifier: UInt16) -> [UInt8] {
        Self.frame(0x82, Self.identifierBytes(identifier) + filters.flatMap { Self.string($0) + [UInt8(number(3))] })
    }

    private mutating func validPacket() -> [UInt8] {
        switch number(9) {
        case 0, 1: return publish(topic: Array(pick(Self.topics).utf8), qos: UInt8(number(3)), identifier: identifier())
        case 2: return subscribe((0..<(1 + number(3))).map { _ in Array(pick(Self.filters).utf8) }, identifier: identifier())
        case 3: return Self.frame(0xA2, Self.identifierBytes(identifier()) + Self.string(pick(Self.filters)))
        case 4: return [0xC0, 0x00]
        case 5: return Self.frame(pick([0x40, 0x50, 0x62, 0x70]), Self.identifierBytes(identifier()))
        case 6 where chance(30): return [0xE0, 0x00]
        default: return publish(topic: Array(pick(Self.topics).utf8), qos: 1, identifier: identifier())
        }
    }

    private mutating func item() -> [UInt8] {
        switch number(100) {
        case 0..<55: return validPacket()
        case 55..<59:  // fixed-header flags the type does not allow (2.2.2)
            var packet = validPacket()
            if packet[0] >> 4 != 3 { packet[0] = packet[0] & 0xF0 | UInt8(1 + number(15)) ^ (packet[0] & 0x0F) }
            return packet
        case 59..<63:  // remaining length: five bytes, or not the body's length
            switch number(3) {
            case 0: return [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
            case 1: return [0xC0, 0x05]
            default: return [0x82, 0x01] + Self.identifierBytes(1) + Self.string("f/1") + [0]
            }
        case 63..<68:
            let bad = pick(Self.badStrings)
            return chance(50) ? publish(topic: bad, qos: UInt8(number(3)), identifier: identifier()) : subscribe([bad], identifier: identifier())
        case 68..<71: return publish(topic: Array(pick(Self.wildcardTopics).utf8), qos: UInt8(number(3)), identifier: identifier())
        case 71..<73: return subscribe([Array(pick(Self.badFilters).utf8)], identifier: identifier())
        case 73..<77:  // packet identifier 0 (2.3.1)
            switch number(4) {
            case 0: return publish(topic: Array("f/1".utf8), qos: UInt8(1 + number(2)), identifier: 0)
            case 1: return subscribe([Array("f/1".utf8)], identifier: 0)
            case 2: return Self.frame(0xA2, Self.identifierBytes(0) + Self.string("f/1"))
            default: return Self.frame(pick([0x40, 0x50, 0x62, 0x70]), Self.identifierBytes(0))
            }
        case 77..<80: return connect()  // a second CONNECT
        case 80..<82: return [pick([0x00, 0xF0, 0x0F, 0xFF]), 0x00]  // reserved packet types 0 and 15
        case 82..<85: return pick([[0x20, 0x02, 0x00, 0x00], [0x90, 0x03, 0x00, 0x01, 0x00], [0xB0, 0x02, 0x00, 0x01], [0xD0, 0x00]])
        case 85..<90: return bytes(1 + number(24))
        default: return mutate(validPacket())
        }
    }

    /// Flipped bits, a changed byte, cut short, bytes inserted, or the remaining length rewritten.
    private mutating func mutate(_ packet: [UInt8]) -> [UInt8] {
        var result = packet
        switch number(5) {
        case 0:
            for _ in 0..<(1 + number(3)) { result[number(result.count)] ^= UInt8(1 << number(8)) }
        case 1:
            result[number(result.count)] = UInt8(truncatingIfNeeded: random.next())
        case 2:
            result = Array(result.prefix(number(result.count)))
        case 3:
            result.insert(contentsOf: bytes(1 + number(6)), at: number(result.count + 1))
        default:
            if result.count > 1 { result[1] = UInt8(truncatingIfNeeded: random.next()) }
        }
        return result
    }
}
