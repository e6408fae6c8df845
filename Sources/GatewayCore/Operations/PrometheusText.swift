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

    /// A sample of the current family with `labels` (name, value pairs, in the order given).
    package mutating func sample(_ labels: KeyValuePairs<String, String> = [:], _ value: Int) {
        guard beginSample(labels) else { return }
        append(String(value))
        bytes.append(0x0A)
    }

    /// A sample of the current family with a floating-point value (`NaN`, `+Inf` and `-Inf` as
    /// the format spells them).
    package mutating func sample(_ labels: KeyValuePairs<String, String> = [:], _ value: Double) {
        guard beginSample(labels) else { return }
        append(Self.text(value))
        bytes.append(0x0A)
    }

    /// A duration in seconds (the unit Prometheus names use).
    package mutating func sample(_ labels: KeyValuePairs<String, String> = [:], seconds: Duration) {
        sample(labels, Self.seconds(seconds))
    }

    /// The number as the format reads it (Go's ParseFloat): Swift's shortest form, but the
    /// special values spelled `NaN`, `+Inf`, `-Inf`.
    static func text(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    /// A duration as seconds.
    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private mutating func beginSample(_ labels: KeyValuePairs<String, String>) -> Bool {
        guard let family, !familySkipped else { return false }
        append(family)
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (name, value) in labels {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                append(name)
                append("=\"")
                appendEscaped(value, quotes: true)
                bytes.append(UInt8(ascii: "\""))
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(0x20)
        return true
    }

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Label values escape backslash, double quote and line feed; HELP text the same but the
    /// quote (Prometheus text exposition format, "Comments, help text, and type information").
    private mutating func appendEscaped(_ text: String, quotes: Bool) {
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
