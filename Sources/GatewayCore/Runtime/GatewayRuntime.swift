import Broker
import Mapping
import Modbus
import POSIX
import Registry
import Serial

/// The running gateway: the embedded broker and/or the upstream side, one `BusWorker` per bus
/// (with a simulator behind buses of type simulator), and a channel per device (into the embedded
/// broker, into its upstream queue, or both). Reloading a config restarts only what changed: a
/// bus whose settings changed, a device whose settings or profile changed.
actor GatewayRuntime {
    private(set) var loaded: LoadedConfiguration
    /// The embedded broker; in `upstream` mode only its HTTP listeners for `/metrics` and
    /// `/healthz` (nil without any), and no device is on it.
    let broker: Broker?
    /// Whether the devices' topics are on `broker` (modes embedded and both).
    let devicesOnBroker: Bool
    /// The upstream connections and their queues; nil in `embedded` mode.
    let upstream: UpstreamService?
    /// Where the runtime, its buses, devices and broker log; the command that starts it owns the handler.
    let logger: Logger
    private var workers: [String: BusWorker] = [:]
    /// Each polled device's link state and its bus's counters, for the broker's monitoring messages.
    let links: DeviceLinkBoard
    private var simulators: [String: ModbusSimulator] = [:]
    /// Each bus's Modbus TCP server, for those that have one (GatewayRuntime+BusServer.swift).
    var servers: [String: BusServer] = [:]
    /// Which steps may run now: the actor's methods interleave at every `await`, and a stop
    /// (SIGTERM) can come while a reload (SIGHUP) is between its steps.
    private var lifecycle = RuntimeLifecycle()
    /// Commands from both sides (or repeated by QoS 1) run once per request id.
    private let deduplicator: CommandDeduplicator?
    /// The config the console shows, replaced at each reload.
    private let consoleConfiguration: ConsoleConfigurationBox

    private init(loaded: LoadedConfiguration, broker: Broker?, upstream: UpstreamService?, links: DeviceLinkBoard,
                 consoleConfiguration: ConsoleConfigurationBox, logger: Logger) {
        self.loaded = loaded
        self.consoleConfiguration = consoleConfiguration
        self.broker = broker
        devicesOnBroker = loaded.config.broker.hasEmbeddedBroker
        self.upstream = upstream
        self.links = links
        self.logger = logger
        deduplicator = upstream.map { CommandDeduplicator(window: $0.plan.settings.commandDedupWindow) }
    }

    /// Starts the broker (under the registry's policy) and/or the upstream side, the buses and
    /// their devices for a loaded config; all of them log to `logger`.
    /// `brokerLogger` (default `logger`) is the broker's: `run --quiet` raises its level.
    static func start(_ gateway: LoadedGateway, logger: Logger, brokerLogger: Logger? = nil) async throws(GatewayError) -> GatewayRuntime {
        let loaded = gateway.configuration
        let links = DeviceLinkBoard()
        var upstream: UpstreamService?
        if let plan = gateway.upstream {
            guard let storage = loaded.storagePath else {
                throw .unsupported("\(loaded.file): $.storage: an upstream broker needs a storage folder for its queue")
            }
            let service = try await UpstreamService.start(plan, storage: storage, logger: logger)
            links.attachUpstream { service.status(of: $0) }
            upstream = service
        }
        let consoleConfiguration = ConsoleConfigurationBox(loaded)
        let site = GatewaySite(console: ConsoleSite(configuration: { consoleConfiguration.current() }))
        let broker: Broker?
        do {
            broker = gateway.listeners.isEmpty && gateway.upstream != nil ? nil
                : try startBroker(gateway, links: links, site: site, logger: brokerLogger ?? logger)
        } catch {
            await upstream?.stop()
            throw error
        }
        let runtime = GatewayRuntime(loaded: loaded, broker: broker, upstream: upstream, links: links,
                                     consoleConfiguration: consoleConfiguration, logger: logger)
        site.attach(runtime.operations)
        do {
            for bus in loaded.config.buses {
                try await runtime.startBus(bus, devices: loaded.devices.filter { $0.bus.id == bus.id })
            }
        } catch {
            await runtime.stop(reason: "start failed")
            throw error
        }
        return runtime
    }

    private static func startBroker(_ gateway: LoadedGateway, links: DeviceLinkBoard, site: GatewaySite, logger: Logger) throws(GatewayError) -> Broker {
        let loaded = gateway.configuration
        guard !gateway.listeners.isEmpty else { throw .unsupported("\(loaded.file): $.broker.listeners: no listener") }
        // In upstream mode the storage folder is the upstream queue's; the broker serves HTTP only.
        let configuration = BrokerConfiguration(listeners: gateway.listeners.map(\.configuration),
                                                storageDirectory: loaded.config.broker.hasEmbeddedBroker ? loaded.storagePath : nil,
                                                maximumMessageSize: loaded.config.broker.maximumMessageSize)
        do {
            return try Broker.start(configuration, policy: policy(gateway.registry, links: links), site: site, logger: logger)
        } catch {
            throw .broker(error)
        }
    }

    /// The registry's rules (docs/iot-core.md), with the Modbus link of the gateway's own devices
    /// (and their upstream queue) in their monitoring messages.
    private static func policy(_ registry: RegistryDirectory, links: DeviceLinkBoard) -> RegistryPolicy {
        RegistryPolicy(registry, monitoringFields: { links.monitoringFields($0) })
    }

    /// Stops every bus (each device's `state` says why) and then the broker. A reload under way
    /// starts nothing more; a second stop returns at once.
    func stop(reason: String) async {
        guard lifecycle.beginStop() == .proceed else { return }
        for id in workers.keys.sorted() { await stopBus(id, reason: reason) }
        // The devices' last `state` went into the queues above; the queues close after it.
        await upstream?.stop()
        await broker?.stop()
        lifecycle.endStop()
    }

    // MARK: - Reload

    /// Loads the config file again and restarts only what changed. A config with errors is
    /// refused as a whole (every error logged) and the running one stays. A reload asked for while
    /// one runs follows it (once, however often it was asked); one asked for while the gateway
    /// stops is ignored.
    func reload() async {
        switch lifecycle.beginReload() {
        case .proceed:
            break
        case .deferred:
            logger.log(.info, "reload_deferred", ["config": loaded.file, "note": "runs when the reload under way ends"])
            return
        case .refused:
            logger.log(.warning, "reload_ignored", ["config": loaded.file, "note": "the gateway is stopping"])
            return
        }
        repeat {
            await reloadOnce()
        } while lifecycle.endReload()
    }

    private func reloadOnce() async {
        let file = loaded.file
        let nextGateway: LoadedGateway
        do {
            nextGateway = try RegistryLoader.load(configFile: file)
        } catch {
            for problem in error.problems { logger.log(.error, "config_problem", ["problem": problem.description]) }
            logger.log(.error, "reload_refused", ["config": file, "problems": String(error.problems.count), "note": "the running config stays"])
            return
        }
        let next = nextGateway.configuration
        // New logins (and the gateway's devices started below) follow the new registry; clients
        // already connected keep the rules they logged in with until they reconnect.
        await broker?.replacePolicy(Self.policy(nextGateway.registry, links: links))
        if let upstream, let plan = nextGateway.upstream { upstream.replaceDeviceLogins(from: plan) }
        if next.config.broker != loaded.config.broker || next.storagePath != loaded.storagePath {
            logger.log(.warning, "broker_settings_changed", ["config": file, "note": "restart modbridge to apply broker settings"])
        }
        var summary: [String: Int] = ["buses_restarted": 0, "devices_added": 0, "devices_removed": 0, "devices_restarted": 0]
        let oldDevices = Dictionary(loaded.devices.map { ($0.settings.id, $0) }, uniquingKeysWith: { $1 })
        let newDevices = Dictionary(next.devices.map { ($0.settings.id, $0) }, uniquingKeysWith: { $1 })

        // Buses that went away or changed stop, with their devices.
        for bus in loaded.config.buses where next.config.bus(bus.id)?.lineSettings != bus.lineSettings {
            await stopBus(bus.id, reason: "bus \(bus.id) changed by a reload")
            summary["buses_restarted", default: 0] += 1
        }
        // Devices on buses that stay: removed or changed ones stop.
        for (id, old) in oldDevices.sorted(by: { $0.key < $1.key }) {
            guard let worker = workers[old.bus.id], newDevices[id] != old else { continue }
            await worker.remove(id, reason: newDevices[id] == nil ? "removed by a reload" : "restarted by a reload")
            summary[newDevices[id] == nil ? "devices_removed" : "devices_restarted", default: 0] += 1
        }
        loaded = next
        consoleConfiguration.replace(next)
        for bus in next.config.buses {
            guard lifecycle.mayStart else {
                logger.log(.warning, "reload_abandoned", ["config": file, "note": "the gateway is stopping"])
                return
            }
            let devices = next.devices.filter { $0.bus.id == bus.id }
            if let worker = workers[bus.id] {
                for device in devices where oldDevices[device.settings.id] != device {
                    guard lifecycle.mayStart else {
                        logger.log(.warning, "reload_abandoned", ["config": file, "note": "the gateway is stopping"])
                        return
                    }
                    do {
                        try await addDevice(device, to: worker)
                        if oldDevices[device.settings.id] == nil { summary["devices_added", default: 0] += 1 }
                    } catch {
                        logger.log(.error, "device_start_failed", ["device": device.settings.id, "error": error.description])
                    }
                }
                await reloadServer(bus, devices: devices, on: worker)
            } else {
                do {
                    try await startBus(bus, devices: devices)
                } catch {
                    logger.log(.error, "bus_start_failed", ["bus": bus.id, "error": error.description])
                }
            }
        }
        logger.log(.info, "reloaded", ["config": file] + summary.sorted { $0.key < $1.key }.map { ($0.key, String($0.value)) })
    }

    // MARK: - Buses and devices

    private func startBus(_ settings: BusSettings, devices: [ResolvedDevice]) async throws(GatewayError) {
        let configuration = try busConfiguration(settings)
        let worker: BusWorker
        do {
            worker = try BusWorker(settings: settings, configuration: configuration, links: links, logger: logger)
        } catch {
            throw .bus(id: settings.id, error)
        }
        // Kept first, so that a device that cannot connect leaves the others running.
        workers[settings.id] = worker
        links.attach(bus: settings.id, progressLimit: BusProgressRule.limit(responseTimeout: configuration.responseTimeout)) { worker.status }
        for device in devices { try await addDevice(device, to: worker) }
        try startServer(settings, devices: devices, on: worker)
    }

    private func addDevice(_ device: ResolvedDevice, to worker: BusWorker) async throws(GatewayError) {
        var channels: [any DeviceChannel] = []
        if let broker, devicesOnBroker {
            do {
                channels.append(try await BrokerDeviceChannel.connect(to: broker, deviceID: device.settings.id,
                                                                      registryID: device.registry, logger: logger))
            } catch {
                throw .broker(error)
            }
        }
        if let upstream, let deduplicator {
            do {
                channels.append(try await upstream.channel(for: device))
            } catch {
                for channel in channels { channel.close() }
                throw error
            }
            worker.add(device, channel: FanOutDeviceChannel(deviceID: device.settings.id, channels: channels,
                                                            deduplicator: deduplicator, logger: logger))
        } else if let channel = channels.first {
            worker.add(device, channel: channel)
        }
    }

    private func stopBus(_ id: String, reason: String) async {
        links.detach(bus: id)
        await stopServer(id, reason: reason)
        if let worker = workers.removeValue(forKey: id) { await worker.stop(reason: reason) }
        simulators.removeValue(forKey: id)?.stop()
    }

    /// The line a bus's settings describe; for a simulator bus, its simulator is started first.
    private func busConfiguration(_ settings: BusSettings) throws(GatewayError) -> BusConfiguration {
        let target: ModbusTarget
        var framing = LineFraming.rtu
        switch settings.kind {
        case let .rtu(device, line):
            target = .rtu(path: device, settings: Self.serialSettings(line))
            framing = LineFraming(rawValue: line.framing) ?? .rtu
        case let .tcp(host, port):
            target = .tcp(host: host, port: port)
        case let .rtuOverTCP(host, port):
            target = .rtuOverTCP(host: host, port: port)
        case let .simulator(units, line):
            framing = LineFraming(rawValue: line.framing) ?? .rtu
            // A pty carries bytes at once whatever its baud: the simulator keeps a real line's
            // times itself, so that the measured cycle (`bus_cycle`) is what a cabinet would show.
            let timing = settings.simulatedCharacterTimes ? SimulatedLineTiming(settings: Self.serialSettings(line), framing: framing) : nil
            let simulator: ModbusSimulator
            do {
                simulator = try ModbusSimulator.startRTU(controllers: units.map { SimulatedController(unit: $0) }, framing: framing,
                                                         lineTiming: timing)
            } catch {
                throw .bus(id: settings.id, error)
            }
            simulators[settings.id] = simulator
            var serial = Self.serialSettings(line)
            serial.rs485.mode = .off  // a pty has no RS-485 driver
            target = .rtu(path: simulator.address, settings: serial)
            logger.log(.info, "simulator_started", ["bus": settings.id, "line": simulator.address, "framing": framing.rawValue,
                                                     "character_times": settings.simulatedCharacterTimes ? "real" : "none",
                                                     "units": units.map(String.init).joined(separator: ",")])
        }
        return BusConfiguration(target: target, framing: framing, responseTimeout: settings.responseTimeout, byteTimeout: settings.byteTimeout,
                                silence: settings.interFrameDelay.map(InterFrameSilence.fixed) ?? .standard)
    }

    static func serialSettings(_ line: BusSettings.SerialLine) -> SerialSettings {
        SerialSettings(baudRate: line.baud,
                       dataBits: DataBits(rawValue: line.dataBits) ?? .eight,
                       parity: Parity(rawValue: line.parity) ?? .none,
                       stopBits: StopBits(rawValue: line.stopBits) ?? .one,
                       rs485: RS485Settings(mode: RS485Mode(rawValue: line.rs485) ?? .auto))
    }
}
