/// A bus's Modbus TCP server: where it listens and what its clients may ask of the bus.
package struct BusServerConfiguration: Sendable, Equatable {
    /// The bus's name, for logs and errors.
    package var bus: String
    /// A numeric IPv4 or IPv6 address ("127.0.0.1", "::1"); port 0 picks a free one.
    package var host: String
    package var port: UInt16
    /// Unit ids a client may reach; any other is answered with exception 0x0A.
    package var units: Set<UInt8>
    /// Function codes a client may use; any other is answered with exception 01.
    package var functions: Set<UInt8>
    /// Clients served at once; one more is closed as soon as it is accepted.
    package var maximumConnections: Int
    /// A client that sends nothing and waits for nothing this long is disconnected.
    package var idleTimeout: Duration
    /// Requests of one client waiting for the bus; past this the server reads no more from it
    /// until answers have gone out (TCP flow control slows the client down).
    package var maximumRequestsInFlight: Int

    /// The read functions: what a server allows unless writes are allowed explicitly.
    package static let readFunctions: Set<UInt8> = [1, 2, 3, 4]
    /// Every function the server passes to the bus (others are answered with exception 01).
    package static let supportedFunctions: Set<UInt8> = [1, 2, 3, 4, 5, 6, 15, 16, 23]

    package init(bus: String, host: String, port: UInt16, units: Set<UInt8>, functions: Set<UInt8> = readFunctions,
                 maximumConnections: Int = 4, idleTimeout: Duration = .seconds(60), maximumRequestsInFlight: Int = 16) {
        self.bus = bus
        self.host = host
        self.port = port
        self.units = units
        self.functions = functions
        self.maximumConnections = maximumConnections
        self.idleTimeout = idleTimeout
        self.maximumRequestsInFlight = maximumRequestsInFlight
    }

    /// `tcp://127.0.0.1:1502`, `tcp://[::1]:1502`.
    package var address: String {
        host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
    }
}

/// Something that happened at a bus's Modbus TCP server, for the log.
package enum BusServerEvent: Sendable, Equatable {
    /// The server listens at `address` (with the port it got, if 0 was asked).
    case listening(address: String)
    case clientConnected(client: String, connections: Int)
    /// `reason`: "closed by the client", "idle", "invalid frame: …", "I/O error: …", "server stopped".
    case clientDisconnected(client: String, reason: String)
    /// A client over `maximumConnections` was closed at once. Reported at once, then at most once
    /// every 10 s: `count` is every refusal since the last report.
    case clientRefused(client: String, count: Int)
    /// A request answered with an exception without reaching the bus (unit or function not
    /// allowed, a malformed PDU). Reported at once, then at most once every 10 s: `count` is
    /// every refused request since the last report; the fields are the latest one's.
    case requestRefused(client: String, unit: UInt8, function: UInt8, exception: ModbusExceptionCode, count: Int)
}

/// A snapshot of a bus server's counters.
package struct BusServerStatus: Sendable, Equatable {
    /// Clients connected now.
    package var connections = 0
    package var accepted = 0
    /// Clients closed at once because `maximumConnections` were connected.
    package var refusedConnections = 0
    /// Requests received (whole frames).
    package var requests = 0
    /// Requests answered with an exception without reaching the bus.
    package var refusedRequests = 0
    /// Clients disconnected for sending bytes that are not Modbus TCP.
    package var garbageDisconnects = 0
    package var idleDisconnects = 0

    package init() {}
}
