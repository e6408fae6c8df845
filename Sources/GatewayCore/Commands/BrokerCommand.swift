import Broker
import POSIX

/// `modbridge broker`: runs the embedded MQTT broker alone until interrupted.
package struct BrokerCommand: Command {
    package static let name = "broker"
    package static let summary = "run the embedded MQTT 3.1.1 broker alone"
    package static let help = """
    Usage: modbridge broker [--listen HOST:PORT]... | [--host ADDRESS] [--port PORT]
                            [--storage DIR] [limits]

    Serves MQTT 3.1.1 (QoS 0, 1 and 2, retained messages, wills, clean and persistent sessions)
    to any client, without authentication, until SIGINT or SIGTERM. Logs one line per event to
    standard error; the first are event=broker_listening lines, one per listener with its port.

      --listen HOST:PORT       listen on HOST (IPv4, or IPv6 in brackets: [::1]:1883, [::]:1883)
                               and PORT (0 picks a free one); repeat for more listeners
      --host ADDRESS           address of the one listener, without --listen (default 127.0.0.1)
      --port PORT              its TCP port (default 1883; 0 picks a free one)
      --storage DIR            keep retained messages and persistent sessions in DIR, across
                               restarts and crashes (default: in memory only)
      --max-message-size N     largest PUBLISH payload in bytes (default 262144); larger
                               disconnects the sender
      --max-inflight N         QoS 1/2 messages in flight per client (default 20)
      --max-queued N           QoS 1/2 messages queued per session beyond that (default 1000);
                               more are dropped
      --max-pending-bytes N    bytes a client may leave unread before it is disconnected as a
                               slow consumer (default 16777216)
      --sync-interval MS       fsync the storage at most this often (default 1000)
      --quiet                  log only warnings and errors
    """

    package let configuration: BrokerConfiguration
    package let quiet: Bool

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        var configuration = BrokerConfiguration()
        let listens = try arguments.values("listen")
        let host = try arguments.value("host")
        let port = try arguments.integer("port", in: UInt16.min...UInt16.max)
        if listens.isEmpty {
            if let host { configuration.host = host }
            if let port { configuration.port = port }
        } else {
            guard host == nil && port == nil else {
                throw arguments.error(host == nil ? "--port" : "--host", "cannot be combined with --listen")
            }
            configuration.listeners = try listens.map { text throws(UsageError) in
                guard let listener = ListenerConfiguration(parsing: text) else {
                    throw arguments.error("--listen", "found \"\(text)\", expected HOST:PORT ([IPV6]:PORT for IPv6, port 0...65535)")
                }
                return listener
            }
        }
        configuration.storageDirectory = try arguments.value("storage")
        if let size = try arguments.integer("max-message-size", in: 1...268_000_000) { configuration.maximumMessageSize = size }
        if let count = try arguments.integer("max-inflight", in: 1...65_535) { configuration.maximumInflightMessages = count }
        if let count = try arguments.integer("max-queued", in: 0...65_534) { configuration.maximumQueuedMessages = count }
        if let bytes = try arguments.integer("max-pending-bytes", in: 1...Int.max) { configuration.maximumPendingBytes = bytes }
        if let interval = try arguments.milliseconds("sync-interval", in: 1...3_600_000) { configuration.syncInterval = interval }
        quiet = arguments.flag("quiet")
        self.configuration = configuration
    }

    package func validate() throws(UsageError) {
        do {
            try configuration.validate()
        } catch {
            throw UsageError(command: Self.name, argument: "limits", message: "\(error)")
        }
    }

    package func run(logger: Logger) async -> Int32 {
        Signals.install()
        // --quiet is the broker's minimum level; the command's own listening/stopped lines stay.
        var brokerLogger = logger
        if quiet { brokerLogger.minimumLevel = .warning }
        let broker: Broker
        do {
            broker = try Broker.start(configuration, logger: brokerLogger)
        } catch {
            logger.flush()
            Output.error("modbridge broker: \(error)")
            return ExitStatus.failure
        }
        for (listener, port) in zip(configuration.listeners, broker.ports) {
            logger.log(.info, "broker_listening", ["host": listener.host, "port": String(port),
                                                    "storage": configuration.storageDirectory ?? "none"])
        }
        await Signals.shared.termination()
        await broker.stop()
        logger.log(.info, "broker_stopped", broker.statistics.stopLineFields)
        return ExitStatus.success
    }
}
