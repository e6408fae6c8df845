import Modbus
import POSIX

extension Logger {
    /// A bus server's event as a log line; `server` is what it serves (its bus, allow-lists).
    func log(_ event: BusServerEvent, server: BusServerConfiguration) {
        let bus = server.bus
        switch event {
        case let .listening(address):
            log(.info, "bus_server_listening", ["bus": bus, "address": address,
                                                "units": server.units.sorted().map(String.init).joined(separator: ","),
                                                "functions": server.functions.sorted().map(String.init).joined(separator: ",")])
        case let .clientConnected(client, connections):
            log(.info, "bus_server_client_connected", ["bus": bus, "client": client, "connections": String(connections)])
        case let .clientDisconnected(client, reason):
            // A client that sent something other than Modbus TCP is worth a warning.
            log(reason.hasPrefix("invalid") ? .warning : .info, "bus_server_client_disconnected",
                ["bus": bus, "client": client, "reason": reason])
        case let .clientRefused(client, count):
            log(.warning, "bus_server_client_refused", ["bus": bus, "client": client, "count": String(count),
                                                         "note": "maxConnections clients are connected"])
        case let .requestRefused(client, unit, function, exception, count):
            log(.warning, "bus_server_request_refused", ["bus": bus, "client": client, "unit": String(unit),
                                                          "function": String(function), "answer": exception.description,
                                                          "count": String(count)])
        }
    }
}
