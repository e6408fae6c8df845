import Broker
import Mapping
import Modbus
import MQTT
import Synchronization

/// One bus of the gateway: its `Bus` (the line and its thread) and the `BusPoller` that thread
/// runs, polling the bus's devices and carrying out their commands. What other threads ask of
/// it (devices to add or remove, commands, stop) goes through the poller's inbox and a wake-up.
package final class BusWorker: Sendable {
    private let bus: Bus
    private let poller: BusPoller
    /// Per device, the task handing its command messages to the poller.
    private let commandPumps = Mutex<[String: Task<Void, Never>]>([:])

    /// Starts the bus's thread on the line `configuration` describes; it polls once devices come.
    package init(settings: BusSettings, configuration: BusConfiguration) throws(ModbusError) {
        let poller = BusPoller(busID: settings.id, probeLength: configuration.interFrameSilence + configuration.responseTimeout)
        self.poller = poller
        bus = try Bus(configuration, threadName: "bus:" + settings.id, driver: poller) { event in Output.log(event, bus: settings.id) }
    }

    /// Adds a device: its first poll is due at once.
    package func add(_ device: ResolvedDevice, link: DeviceLink) {
        let (poller, bus) = (poller, bus)
        poller.post(.add(device, link))
        let deviceID = device.settings.id
        let pump = Task {
            for await message in link.messages {
                poller.post(.command(deviceID: deviceID, message))
                bus.wakeDriver()
            }
        }
        commandPumps.withLock { $0.updateValue(pump, forKey: deviceID)?.cancel() }
        bus.wakeDriver()
    }

    /// Stops polling a device; its `state` says it is no longer served.
    func remove(_ deviceID: String, reason: String) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            poller.post(.remove(deviceID: deviceID, reason: reason, done: { done.resume() }))
            bus.wakeDriver()
        }
        commandPumps.withLock { $0.removeValue(forKey: deviceID) }?.cancel()
    }

    /// Stops polling, says so in every device's `state`, and closes the line.
    package func stop(reason: String) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            poller.post(.stop(reason: reason, done: { done.resume() }))
            bus.wakeDriver()
        }
        for pump in commandPumps.withLock({ pumps in defer { pumps = [:] }; return pumps.values }) { pump.cancel() }
        await bus.close()
    }
}

/// What other threads ask of a `BusPoller`.
enum BusPollerRequest: Sendable {
    case add(ResolvedDevice, DeviceLink)
    case remove(deviceID: String, reason: String, done: @Sendable () -> Void)
    case command(deviceID: String, Publish)
    case stop(reason: String, done: @Sendable () -> Void)
}
