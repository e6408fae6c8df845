/// Writes metrics in the Prometheus text exposition format, version 0.0.4: per family one
/// `# HELP` and one `# TYPE` line, then its samples `name{label="value",...} number`, one a line.
/// Families are written whole, one after the other, so they are never interleaved; a family name
/// used twice is left out the second time (the format allows each family once).
package struct PrometheusText {
    /// A family's type, as the `# TYPE` line says it.
    package enum MetricType: String, Sendable {
        case counter
        case gauge
    }

    /// The media type of the output, for the HTTP `Content-Type` field.
    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    package private(set) var bytes: [UInt8] = []
    private var family: String?
    /// The current family's name as bytes: every sample starts with it.
    private var familyName: [UInt8] = []
    private var familySkipped = false
    private var families: Set<String> = []

    /// `capacity`: bytes to reserve, so that a large page grows its buffer once.
    package init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    /// Starts the family `name` (a counter's name ends in `_total`): its `# HELP` and `# TYPE`
    /// lines. The samples that follow belong to it until the next family starts.
    package mutating func family(_ name: String, _ type: MetricType, help: String) {
        family = name
        familyName = Array(name.utf8)
        familySkipped = !families.insert(name).inserted
        guard !familySkipped else { return }
        append("# HELP ")
        append(name)
        bytes.append(0x20)
        appendEscaped(help, quotes: false)
        append("\n# TYPE ")
        append(name)
        bytes.append(0x20)
        append(type.rawValue)
        bytes.append(0x0A)
    }

    /// The family `name` with its one sample, unlabelled (a process or broker-wide figure).
    package mutating func family(_ name: String, _ type: MetricType, help: String, value: Int) {
        family(name, type, help: help)
        sample([:], value)
    }

    /// The family `name` with its one sample, unlabelled, not a whole number.
    package mutating func family(_ name: String, _ type: MetricType, help: String, value: Double) {
        family(name, type, help: help)
        sample([:], value)
    }

    /// The family `name` with one sample per item of `items`, under the label set at the same
    /// index of `labels`: the shape of every per-bus, per-device and per-connection family.
    package mutating func family<Item>(_ name: String, _ type: MetricType, help: String, labels: [Labels], items: [Item], value: (Item) -> Int) {
        family(name, type, help: help)
        for index in items.indices { sample(labels[index], value(items[index])) }
    }

    /// Label pairs rendered once (`name="value",...`, escaped), for a bus or device whose labels
    /// repeat in every family: no escaping or allocation per sample.
    package struct Labels: Sendable {
        fileprivate var bytes: [UInt8] = []
    }

    /// `pairs` as a reusable label set.
    package static func labels(_ pairs: KeyValuePairs<String, String>) -> Labels {
        var writer = PrometheusText(capacity: 64)
        for (name, value) in pairs { writer.appendLabel(name, value) }
        return Labels(bytes: writer.bytes)
    }

    /// A sample of the current family with `labels` (name, value pairs, in the order given).
    package mutating func sample(_ labels: KeyValuePairs<String, String> = [:], _ value: Int) {
        sample(Self.labels(labels), value)
    }

    /// A sample of the current family with a floating-point value (`NaN`, `+Inf` and `-Inf` as
    /// the format spells them).
    package mutating func sample(_ labels: KeyValuePairs<String, String> = [:], _ value: Double) {
        guard beginSample(Self.labels(labels)) else { return }
        append(Self.text(value))
        bytes.append(0x0A)
    }

    /// A duration in seconds (the unit Prometheus names use).
    package mutating func sample(_ labels: KeyValuePairs<String, String> = [:], seconds: Duration) {
        sample(Self.labels(labels), seconds: seconds)
    }

    /// A sample with a label set made by `labels(_:)`.
    package mutating func sample(_ labels: Labels, _ value: Int) {
        guard beginSample(labels) else { return }
        appendInteger(value)
        bytes.append(0x0A)
    }

    /// A sample with a label set made by `labels(_:)` and one more label after it.
    package mutating func sample(_ labels: Labels, _ extraName: String, _ extraValue: String, _ value: Int) {
        guard beginSample(labels, extraName, extraValue) else { return }
        appendInteger(value)
        bytes.append(0x0A)
    }

    /// A duration in seconds, with a label set made by `labels(_:)`.
    package mutating func sample(_ labels: Labels, seconds: Duration) {
        guard beginSample(labels) else { return }
        appendSeconds(seconds)
        bytes.append(0x0A)
    }

    /// The number as the format reads it (Go's ParseFloat): Swift's shortest form, but the
    /// special values spelled `NaN`, `+Inf`, `-Inf`.
    static func text(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    /// The sample's name and labels, up to the space before its value; false while the current
    /// family is a repeated one (left out).
    private mutating func beginSample(_ labels: Labels, _ extraName: String? = nil, _ extraValue: String = "") -> Bool {
        guard family != nil, !familySkipped else { return false }
        bytes.append(contentsOf: familyName)
        if !labels.bytes.isEmpty || extraName != nil {
            bytes.append(UInt8(ascii: "{"))
            bytes.append(contentsOf: labels.bytes)
            if let extraName { appendLabel(extraName, extraValue) }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(0x20)
        return true
    }

    /// `name="value"`, after a comma unless it is the first label in braces.
    private mutating func appendLabel(_ name: String, _ value: String) {
        if let last = bytes.last, last != UInt8(ascii: "{") { bytes.append(UInt8(ascii: ",")) }
        append(name)
        append("=\"")
        appendEscaped(value, quotes: true)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Decimal digits, without making a String.
    private mutating func appendInteger(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }

    /// Seconds with up to nine decimals, trailing zeros left out: 1.5, 0.042, 12.
    private mutating func appendSeconds(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var whole = seconds
        var nanoseconds = attoseconds / 1_000_000_000
        if whole < 0 || nanoseconds < 0 {
            // Ages are never negative; a clock read out of order shows as 0.
            whole = 0
            nanoseconds = 0
        }
        appendInteger(Int(whole))
        guard nanoseconds > 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var divisor: Int64 = 100_000_000
        var rest = nanoseconds
        while rest > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    private mutating func append(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { bytes.append(contentsOf: $0) }
        if copied == nil { bytes.append(contentsOf: text.utf8) }
    }

    /// Label values escape backslash, double quote and line feed; HELP text the same but the
    /// quote (Prometheus text exposition format, "Comments, help text, and type information").
    private mutating func appendEscaped(_ text: String, quotes: Bool) {
        // Most text has nothing to escape: copied whole.
        let plain = text.utf8.withContiguousStorageIfAvailable { utf8 in
            !utf8.contains { $0 == UInt8(ascii: "\\") || $0 == 0x0A || (quotes && $0 == UInt8(ascii: "\"")) }
        }
        if plain == true {
            append(text)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case UInt8(ascii: "\"") where quotes: append("\\\"")
            default: bytes.append(byte)
            }
        }
    }
}
