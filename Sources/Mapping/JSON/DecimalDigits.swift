/// `number` in decimal digits appended to `bytes`, zero-padded to `minimumWidth` digits, without
/// going through a String or a temporary buffer (payloads are built at every poll).
func appendDecimal(_ number: Int64, minimumWidth: Int = 1, to bytes: inout [UInt8]) {
    if number < 0 { bytes.append(UInt8(ascii: "-")) }
    var magnitude = number.magnitude
    var digitCount = 1
    var rest = magnitude
    while rest >= 10 {
        rest /= 10
        digitCount += 1
    }
    // Zeros first (the padding stays), then the digits written in place from the last one.
    bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(digitCount, minimumWidth)))
    var index = bytes.count
    repeat {
        index -= 1
        bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
    } while magnitude > 0
}
