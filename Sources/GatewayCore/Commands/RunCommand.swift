import Mapping
import POSIX

/// `modbridge run`: the gateway — polls the configured controllers and serves them as devices.
package struct RunCommand: Command {
    package static let name = "run"
    package static let summary = "run the gateway on a config file (buses, devices, embedded and/or upstream broker)"
    package static let help = """
    Usage: modbridge run [--quiet] --config CONFIG
           modbridge run [--quiet] CONFIG

    Starts the embedded MQTT broker and/or connects to the upstream one (broker.mode: embedded,
    upstream, both; upstream messages go through a queue on disk in the storage folder, so an
    outage or a kill -9 loses nothing), opens every bus of the config (a bus of type simulator gets
    simulated controllers on a new pty), polls every device and publishes as it:
      $devices/<id>/events        the points reported this cycle, as JSON, with ts
      $devices/<id>/events/<p>    the bare value, for points with subtopics
      $devices/<id>/state         retained: online, last-known values, last error
      $devices/<id>/events/ack    the answer to every command
    and takes commands on $devices/<id>/commands/<point> (a JSON value or {"value":…,"id":…}),
    $devices/<id>/commands ({"id":…, "<point>": value, …}, one batch), the registry's
    $registries/<rid>/commands[/<point>], and desired values on $devices/<id>/config (publish it
    retained: it is applied on receipt and again whenever the device comes back online).

    A config with errors is refused with every error listed (as `modbridge check` lists them).
    SIGHUP reloads the config and restarts only the buses and devices that changed; SIGINT and
    SIGTERM stop cleanly. Under systemd (Type=notify) it says READY=1 once serving, RELOADING=1
    and READY=1 around a reload, STOPPING=1, and WATCHDOG=1 while its broker answers
    (WatchdogSec); packaging/modbridge.service is a unit for it. Logs go to standard error, one line per event, key=value; --quiet
    leaves out the broker's line per connection (connects, disconnects), keeping its warnings
    (refusals, denials) and every line of the buses and devices.
    """

    package let configFile: String
    /// The broker logs only warnings and errors.
    package let quiet: Bool

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        quiet = arguments.flag("quiet")
        if let file = try arguments.value("config") {
            configFile = file
        } else {
            configFile = try arguments.positional("--config CONFIG")
        }
    }

    package func run(logger: Logger) async -> Int32 {
        Signals.install()
        let hangups = Signals.hangups()
        let gateway: LoadedGateway
        do {
            gateway = try RegistryLoader.load(configFile: configFile)
        } catch {
            CheckCommand.reportProblems(error, in: configFile)
            return ExitStatus.failure
        }
        let loaded = gateway.configuration
        for warning in loaded.warnings { logger.log(.warning, "config_warning", ["warning": warning.description]) }
        let runtime: GatewayRuntime
        do {
            var brokerLogger = logger
            if quiet { brokerLogger.minimumLevel = .warning }
            runtime = try await GatewayRuntime.start(gateway, logger: logger, brokerLogger: brokerLogger)
        } catch {
            logger.flush()
            Output.error("modbridge run: \(error)")
            return ExitStatus.failure
        }
        let mqttDevices = gateway.registry.registries.reduce(0) { $0 + $1.devices.filter { !$0.isGatewayDevice }.count }
        let service = ServiceNotifier.fromEnvironment()
        logger.log(.info, "gateway_started", ["version": ModbridgeVersion.current, "config": configFile,
                                               "ports": runtime.broker?.ports.map(String.init).joined(separator: ",") ?? "none",
                                               "upstream": runtime.upstream.map { "\($0.plan.url) (\($0.plan.settings.connection.rawValue))" } ?? "none",
                                               "buses": String(loaded.config.buses.count), "devices": String(loaded.devices.count),
                                               "registries": String(gateway.registry.registries.count), "mqtt_devices": String(mqttDevices)])
        // Start-up's pages given back once it is over (issue 18's footprint; see StartupPageRelease).
        let pageRelease = StartupPageRelease.schedule(logger: logger, reason: "start")
        var watchdog: Task<Void, Never>?
        if let service {
            let status = "serving \(loaded.devices.count) devices on \(loaded.config.buses.count) buses"
            service.ready(status: status)
            logger.log(.info, "service_notify", ["socket": service.address,
                                                  "watchdog": service.watchdogTimeout.map { "\($0.milliseconds) ms" } ?? "none"])
            if let timeout = service.watchdogTimeout {
                let broker = runtime.broker
                let operations = runtime.operations
                watchdog = ServiceWatchdog.start(service, timeout: timeout, logger: logger,
                                                 stalledBuses: { operations.stalledBuses() }) { await broker?.ping() ?? true }
            }
        }
        let reloads = Task {
            var pageRelease = pageRelease
            for await _ in hangups {
                logger.log(.info, "reload_requested", ["config": configFile])
                service?.reloading()
                await runtime.reload()
                service?.ready(status: "reloaded \(configFile)")
                // A reload parses the config again: its pages are given back the same way.
                pageRelease.cancel()
                pageRelease = StartupPageRelease.schedule(logger: logger, reason: "reload")
            }
            pageRelease.cancel()
        }
        await Signals.shared.termination()
        reloads.cancel()
        service?.stopping()
        watchdog?.cancel()
        await runtime.stop(reason: "gateway stopped")
        logger.log(.info, "gateway_stopped", (runtime.broker?.statistics.stopLineFields ?? []) + (runtime.upstream?.stopLineFields ?? []))
        return ExitStatus.success
    }
}
