import Mapping
import Modbus

/// Each bus's Modbus TCP server for vendor tools (docs/shared-bus.md): started with its bus,
/// stopped before it; a reload that changes what the server is (its settings, or the default
/// allow-list of units when the bus's devices change) restarts the server alone, dropping its
/// clients, while polling goes on.
extension GatewayRuntime {
    /// The server `settings` asks for, its units defaulting to those of `devices` (the bus's).
    static func serverConfiguration(_ settings: BusSettings, devices: [ResolvedDevice]) -> BusServerConfiguration? {
        guard let server = settings.server else { return nil }
        return BusServerConfiguration(bus: settings.id, host: server.host, port: server.port,
                                      units: Set(server.units ?? devices.map(\.unit)), functions: Set(server.functions),
                                      maximumConnections: server.maxConnections, idleTimeout: server.idleTimeout)
    }

    /// Starts the bus's server, if its settings ask for one, in front of `worker`'s bus.
    func startServer(_ settings: BusSettings, devices: [ResolvedDevice], on worker: BusWorker) throws(GatewayError) {
        guard let configuration = Self.serverConfiguration(settings, devices: devices) else { return }
        let logger = logger
        do {
            let server = try BusServer.start(configuration, bus: worker.bus) { logger.log($0, server: configuration) }
            servers[settings.id] = server
            links.attachServer(bus: settings.id) { server.status }
        } catch {
            throw .bus(id: settings.id, error)
        }
    }

    /// Stops the bus's server, if it has one: its clients are disconnected.
    func stopServer(_ busID: String, reason: String) async {
        guard let server = servers.removeValue(forKey: busID) else { return }
        links.detachServer(bus: busID)
        await server.stop()
        logger.log(.info, "bus_server_stopped", ["bus": busID, "reason": reason])
    }

    /// After a reload kept the bus running: restarts its server if what it should be changed.
    func reloadServer(_ settings: BusSettings, devices: [ResolvedDevice], on worker: BusWorker) async {
        let wanted = Self.serverConfiguration(settings, devices: devices)
        guard servers[settings.id]?.configuration != wanted else { return }
        await stopServer(settings.id, reason: "changed by a reload")
        do {
            try startServer(settings, devices: devices, on: worker)
        } catch {
            logger.log(.error, "bus_server_start_failed", ["bus": settings.id, "error": error.description])
        }
    }
}

extension BusSettings {
    /// The settings of the line and its polling, leaving the server out: a change to the server
    /// alone restarts only the server.
    var lineSettings: BusSettings {
        var line = self
        line.server = nil
        return line
    }
}
