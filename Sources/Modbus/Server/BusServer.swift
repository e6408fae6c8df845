import POSIX
import Synchronization

/// A Modbus TCP server in front of one `Bus`, so that a vendor's tool reaches the bus's devices
/// while the gateway polls them: each request passes the unit and function allow-lists and goes
/// into the bus's queue as a pass-through request (`BusPriority.passThrough`); the answer, or
/// an exception, goes back in MBAP framing. It runs on a thread of its own (poll(2) over
/// non-blocking sockets), which owns the listener and every client socket. Call `stop()` when done.
package final class BusServer: Sendable {
    package let configuration: BusServerConfiguration
    /// Where it listens, with the port it got (`tcp://127.0.0.1:1502`).
    package let address: String
    /// The port it listens on (the one it got when 0 was asked).
    package let port: UInt16
    private let mailbox: LoopMailbox<BusServerLoop.Message>
    private let counters: BusServerCounters
    private let thread: DedicatedThread

    /// Listens on `configuration`'s address and starts the server thread, passing requests to `bus`.
    package static func start(_ configuration: BusServerConfiguration, bus: Bus,
                              events: @escaping @Sendable (BusServerEvent) -> Void = { _ in }) throws(ModbusError) -> BusServer {
        try BusServer(configuration, bus: bus, events: events)
    }

    private init(_ configuration: BusServerConfiguration, bus: Bus, events: @escaping @Sendable (BusServerEvent) -> Void) throws(ModbusError) {
        self.configuration = configuration
        let listener: Socket
        do {
            listener = try Socket.listen(host: configuration.host, port: configuration.port, backlog: 16)
            mailbox = try LoopMailbox()
        } catch {
            throw ModbusError(.connectFailed("cannot listen for Modbus TCP clients of bus \(configuration.bus): \(error)"),
                              target: configuration.address)
        }
        port = listener.localPort
        var listening = configuration
        listening.port = port
        address = listening.address
        let counters = BusServerCounters()
        self.counters = counters
        let loop = BusServerLoop(configuration: configuration, listener: listener, bus: bus, mailbox: mailbox,
                                 counters: counters, events: events)
        do {
            thread = try DedicatedThread(name: "modbus-srv:" + configuration.bus) { loop.run() }
        } catch {
            throw ModbusError(.connectFailed("cannot start the server thread of bus \(configuration.bus): \(error)"),
                              target: configuration.address)
        }
        events(.listening(address: address))
    }

    /// The server's counters now.
    package var status: BusServerStatus { counters.state.withLock { $0 } }

    /// Closes every client and the listener and ends the thread; requests still queued on the
    /// bus run, their answers are dropped. A second call returns at once.
    package func stop() async {
        _ = mailbox.send(.stop)
        await mailbox.stopped()
        // The thread has left its loop; joining only reaps it.
        thread.join()
    }
}

/// The server's counters, shared by its thread (which counts) and `BusServer.status` (which reads).
final class BusServerCounters: Sendable {
    let state = Mutex(BusServerStatus())

    func withLock<Result>(_ body: (inout BusServerStatus) -> Result) -> Result {
        state.withLock { body(&$0) }
    }
}
