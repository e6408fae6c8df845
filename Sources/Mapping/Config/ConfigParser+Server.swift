/// `buses[].server`: a Modbus TCP server in front of the bus, for a vendor's tool
/// (docs/shared-bus.md).
package struct BusServerSettings: Sendable, Equatable {
    /// A numeric IPv4 or IPv6 address, from `listen` ("127.0.0.1:1502", "[::1]:1502").
    package var host: String
    /// 0 picks a free port.
    package var port: UInt16
    /// Unit ids a client may reach; nil: the units of the bus's devices.
    package var units: [UInt8]?
    /// Function codes a client may use; the read functions 1-4 unless given.
    package var functions: [UInt8]
    package var maxConnections: Int
    package var idleTimeout: Duration

    package init(host: String, port: UInt16, units: [UInt8]?, functions: [UInt8] = defaultFunctions,
                 maxConnections: Int = 4, idleTimeout: Duration = .seconds(60)) {
        self.host = host
        self.port = port
        self.units = units
        self.functions = functions
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }

    /// What `functions` is when not given: reading only, so writing needs an explicit allow.
    package static let defaultFunctions: [UInt8] = [1, 2, 3, 4]
    /// The functions a server passes to its bus.
    package static let supportedFunctions: [UInt8] = [1, 2, 3, 4, 5, 6, 15, 16, 23]
}

extension ConfigParser {
    /// `{listen, units?, functions?, maxConnections?, idleTimeout?}` of a bus.
    func busServer(_ reader: ObjectReader) -> BusServerSettings? {
        var reader = reader
        let listenExpected = "host:port with a numeric address, e.g. \"127.0.0.1:1502\" or \"[::1]:1502\""
        let listen = reader.string("listen", required: true, expected: listenExpected)
        var endpoint: (host: String, port: UInt16)?
        if let listen {
            endpoint = Self.listenAddress(listen)
            if endpoint == nil { log.report(reader.childPath("listen"), "found \"\(listen)\", expected \(listenExpected)") }
        }
        let units = reader.array("units").map { items in
            idList(items, path: reader.childPath("units"), expected: "a unit id 1...247") { (1...247).contains($0) }
        }
        let supported = BusServerSettings.supportedFunctions.map(String.init).joined(separator: ", ")
        let functions = reader.array("functions", nonEmpty: true).map { items in
            idList(items, path: reader.childPath("functions"), expected: "one of the function codes \(supported)") {
                BusServerSettings.supportedFunctions.contains(UInt8(clamping: $0))
            }
        }
        let maxConnections = reader.integer("maxConnections", in: 1...64) ?? 4
        let idleTimeout = reader.duration("idleTimeout", in: Duration.seconds(1)...Duration.seconds(86_400)) ?? .seconds(60)
        reader.finish()
        guard let endpoint else { return nil }
        return BusServerSettings(host: endpoint.host, port: endpoint.port, units: units,
                                 functions: functions ?? BusServerSettings.defaultFunctions,
                                 maxConnections: Int(maxConnections), idleTimeout: idleTimeout)
    }

    /// Integers of `items` that pass `valid`, each other one reported; a repeated one is reported at the array.
    private func idList(_ items: [(JSONValue, String)], path: String, expected: String, valid: (Int64) -> Bool) -> [UInt8] {
        let values = items.compactMap { item, itemPath -> UInt8? in
            guard case let .integer(number) = item, (0...255).contains(number), valid(number) else {
                log.mismatch(itemPath, found: item, expected: expected)
                return nil
            }
            return UInt8(number)
        }
        if Set(values).count != values.count { log.report(path, "a value is listed twice") }
        return values
    }

    /// "a.b.c.d:port" or "[v6]:port" (port 0...65535); nil if it is neither. An IPv6 address is
    /// checked for its characters only: the socket says whether it is one.
    static func listenAddress(_ text: String) -> (host: String, port: UInt16)? {
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4, parts.allSatisfy({ part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && Int(part).map { $0 <= 255 } == true
            }) else { return nil }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port <= 65535 else { return nil }
        return (String(host), UInt16(port))
    }
}
