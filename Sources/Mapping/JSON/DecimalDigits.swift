/// `number` in decimal digits appended to `bytes`, zero-padded to `minimumWidth` digits, without
/// going through a String (payloads are built at every poll).
func appendDecimal(_ number: Int64, minimumWidth: Int = 1, to bytes: inout [UInt8]) {
    if number < 0 { bytes.append(UInt8(ascii: "-")) }
    var magnitude = number.magnitude
    let start = bytes.count
    repeat {
        bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
        magnitude /= 10
    } while magnitude > 0 || bytes.count - start < minimumWidth
    bytes[start...].reverse()
}
