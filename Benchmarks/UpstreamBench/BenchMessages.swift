/// The drain row's messages: events documents of about 180 bytes from several devices, each
/// carrying its number at a fixed place so the subscriber can count every one of them.
enum BenchMessages {
    /// `{"n":"` then 6 digits (or "live00" for the live message).
    private static let numberOffset = 6

    static func topic(device: Int) -> String { "plant/dev-\(device)/events" }

    /// The topic of the message posted when the link comes back.
    static let liveTopic = "plant/dev-1/events"

    /// Message `index` (0 ..< 1,000,000) of device `index % devices`, as a gateway's events document.
    static func payload(_ index: Int, wallMilliseconds: Int64) -> [UInt8] {
        let digits = String(index)
        let number = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        return document(number: number, wallMilliseconds: wallMilliseconds, index: index)
    }

    static func livePayload(wallMilliseconds: Int64) -> [UInt8] {
        document(number: "live00", wallMilliseconds: wallMilliseconds, index: 0)
    }

    private static func document(number: String, wallMilliseconds: Int64, index: Int) -> [UInt8] {
        let temperature = 600 + index % 97
        let text = #"{"n":"\#(number)","ts":\#(wallMilliseconds),"temperature":\#(temperature / 10).\#(temperature % 10),"#
            + #""heater_output":12.5,"status":["running","heating"],"set_point":65.0,"running":"running","#
            + #""high_alarm_limit":90.0,"heating":true,"high_alarm":false}"#
        return Array(text.utf8)
    }

    /// What a received payload is: a backlog message's index, or the live message.
    enum Kind: Equatable {
        case backlog(Int)
        case live
        case other
    }

    static func kind(of payload: [UInt8]) -> Kind {
        guard payload.count >= numberOffset + 6 else { return .other }
        if payload[numberOffset] == UInt8(ascii: "l") { return .live }
        var value = 0
        for byte in payload[numberOffset..<(numberOffset + 6)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return .other }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return .backlog(value)
    }
}
