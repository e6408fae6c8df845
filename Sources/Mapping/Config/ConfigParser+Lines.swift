/// The keys of a bus that say how its frames travel: `framing` on serial lines (Modbus RTU or
/// ASCII), and the `rtu-over-tcp` bus type for serial device servers in transparent mode.
extension ConfigParser {
    /// The framings a serial bus (`rtu`, `simulator`) may name (Modbus over Serial Line §2.5).
    static let lineFramings = ["rtu", "ascii"]

    /// `framing` of a serial bus, when given.
    func lineFraming(_ reader: inout ObjectReader) -> String? {
        reader.choice("framing", Self.lineFramings)
    }

    /// An `rtu-over-tcp` bus: `host` and `port`, both required (device servers have no standard
    /// port: Moxa NPort's TCP server mode listens on 4001, others elsewhere).
    func rtuOverTCP(_ reader: inout ObjectReader) -> BusSettings.Kind? {
        let host = reader.string("host", required: true, expected: "the device server's host name or address", valid: { !$0.isEmpty })
        let port = reader.integer("port", in: 1...65535, required: true, expected: "the device server's TCP port 1...65535 (4001 on a Moxa NPort)")
        guard let host, let port else { return nil }
        return .rtuOverTCP(host: host, port: UInt16(port))
    }
}
