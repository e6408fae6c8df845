import Mapping
import Modbus
import POSIX

/// One bus of the gateway: its `Bus` (the line and its thread) and the `BusPoller` that thread
/// runs, polling the bus's devices and carrying out their commands. What other threads ask of
/// it (devices to add or remove, commands, stop) goes through the poller's inbox and a wake-up.
package final class BusWorker: Sendable {
    /// The line (its bus server passes requests to it).
    let bus: Bus
    private let poller: BusPoller

    /// Commands of one device that may wait for the bus thread by default: what the broker's
    /// per-client stream held before commands came by callback.
    package static let defaultCommandBacklogLimit = 10_000

    /// Starts the bus's thread on the line `configuration` describes; it polls once devices come.
    /// While the bus is busy, up to `commandBacklogLimit` commands per device wait; more are dropped.
    /// Line and device events go to `logger`.
    package init(settings: BusSettings, configuration: BusConfiguration,
                 commandBacklogLimit: Int = defaultCommandBacklogLimit, links: DeviceLinkBoard? = nil, logger: Logger) throws(ModbusError) {
        // Off unless the config says so: a `$trace` command switches it on for a while.
        let trace = logger.frameTrace(bus: settings.id, on: settings.trace)
        let poller = BusPoller(busID: settings.id, probeLength: configuration.interFrameSilence + configuration.responseTimeout,
                               commandBacklogLimit: commandBacklogLimit, links: links,
                               predictor: CyclePredictor(configuration: configuration), logger: logger, trace: trace)
        self.poller = poller
        bus = try Bus(configuration, threadName: "bus:" + settings.id, driver: poller, trace: trace) { event in logger.log(event, bus: settings.id) }
    }

    /// The line's counters (a copy taken under the bus's lock).
    package var status: BusStatus { bus.status }

    /// Adds a device: its first poll is due at once. Its commands go from the channel's delivery
    /// path straight into the poller's inbox, in the order the channel received them.
    package func add(_ device: ResolvedDevice, channel: any DeviceChannel) {
        let (poller, bus) = (poller, bus)
        poller.post(.add(device, channel))
        let deviceID = device.settings.id
        channel.receive { input in
            let accepted = poller.post(.command(deviceID: deviceID, input))
            bus.wakeDriver()
            return accepted
        }
        bus.wakeDriver()
    }

    /// Stops polling a device; its `state` says it is no longer served, and its channel closes.
    func remove(_ deviceID: String, reason: String) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            poller.post(.remove(deviceID: deviceID, reason: reason, done: { done.resume() }))
            bus.wakeDriver()
        }
    }

    /// Stops polling, says so in every device's `state`, and closes the line.
    package func stop(reason: String) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            poller.post(.stop(reason: reason, done: { done.resume() }))
            bus.wakeDriver()
        }
        await bus.close()
    }
}

/// What other threads ask of a `BusPoller`.
enum BusPollerRequest: Sendable {
    case add(ResolvedDevice, any DeviceChannel)
    case remove(deviceID: String, reason: String, done: @Sendable () -> Void)
    case command(deviceID: String, DeviceInput)
    case stop(reason: String, done: @Sendable () -> Void)
}
