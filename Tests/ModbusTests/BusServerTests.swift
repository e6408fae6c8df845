import Glibc
import Modbus
import POSIX
import Synchronization
import Testing
import TestSupport

/// A `BusServer` in process in front of a simulator's bus, spoken to with raw MBAP frames.
@Suite("Bus server in process: allow-lists, order, connection limits, idle clients")
struct BusServerTests {
    /// Events the server reported, in order.
    final class Events: Sendable {
        let list = Mutex<[BusServerEvent]>([])
        func record(_ event: BusServerEvent) { list.withLock { $0.append(event) } }
        var all: [BusServerEvent] { list.withLock { $0 } }
    }

    private func connect(_ server: BusServer) throws -> Socket {
        try Socket.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5))
    }

    /// `count` frames read from `socket`, or fewer if it closes (bounded: 30 s).
    private func readFrames(_ count: Int, from socket: Socket) throws -> (frames: [MBAPFrame], closed: Bool) {
        var framer = MBAPFramer(source: "server")
        var frames: [MBAPFrame] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while frames.count < count, ContinuousClock.now < deadline {
            guard try socket.wait(for: Int16(POLLIN), timeout: .milliseconds(200)) else { continue }
            let read: Int?
            do {
                read = try buffer.withUnsafeMutableBytes { raw throws(Errno) in try socket.read(into: raw) }
            } catch {
                return (frames, true)  // reset
            }
            guard let read else { continue }
            if read == 0 { return (frames, true) }
            framer.append(buffer[0..<read])
            while let frame = try framer.next() { frames.append(frame) }
        }
        return (frames, false)
    }

    @Test("Passed and refused requests sent together are answered in the order they came, each as it should be; stop closes the client")
    func answersInOrder() async throws {
        let bench = try RTUBench(units: [1, 2])
        bench.controller.setRegisters(.holdingRegisters, address: 0, [10, 20, 30])
        let events = Events()
        let server = try BusServer.start(BusServerConfiguration(bus: "line", host: "127.0.0.1", port: 0, units: [1, 3],
                                                                functions: [3, 6]), bus: bench.bus, events: events.record)
        let socket = try connect(server)
        let requests = [
            MBAPFrame(transactionID: 1, unit: 1, pdu: [0x03, 0x00, 0x00, 0x00, 0x03]),   // read 0+3
            MBAPFrame(transactionID: 2, unit: 2, pdu: [0x03, 0x00, 0x00, 0x00, 0x01]),   // unit 2 not allowed
            MBAPFrame(transactionID: 3, unit: 1, pdu: [0x06, 0x00, 0x01, 0x00, 0x63]),   // write 1 = 99
            MBAPFrame(transactionID: 4, unit: 1, pdu: [0x04, 0x00, 0x00, 0x00, 0x01]),   // function 4 not allowed
            MBAPFrame(transactionID: 5, unit: 1, pdu: [0x03, 0x00, 0x00, 0x00, 0x7E]),   // 126 registers
            MBAPFrame(transactionID: 6, unit: 1, pdu: [0x03, 0x00, 0x00, 0x00, 0x03]),   // read again
            MBAPFrame(transactionID: 7, unit: 3, pdu: [0x03, 0x00, 0x00, 0x00, 0x01]),   // allowed, but no unit 3: timeout
        ]
        try socket.writeAll(requests.flatMap(\.bytes))
        let (answers, _) = try readFrames(requests.count, from: socket)
        #expect(answers == [
            MBAPFrame(transactionID: 1, unit: 1, pdu: [0x03, 0x06, 0, 10, 0, 20, 0, 30]),
            MBAPFrame(transactionID: 2, unit: 2, pdu: [0x83, 0x0A]),
            MBAPFrame(transactionID: 3, unit: 1, pdu: [0x06, 0x00, 0x01, 0x00, 0x63]),
            MBAPFrame(transactionID: 4, unit: 1, pdu: [0x84, 0x01]),
            MBAPFrame(transactionID: 5, unit: 1, pdu: [0x83, 0x03]),
            MBAPFrame(transactionID: 6, unit: 1, pdu: [0x03, 0x06, 0, 10, 0, 99, 0, 30]),
            MBAPFrame(transactionID: 7, unit: 3, pdu: [0x83, 0x0B]),
        ])
        // Only the allowed, well-formed requests reached the line.
        #expect(bench.simulator.requests.map(\.unit) == [1, 1, 1, 3])
        #expect(server.status.requests == 7)
        #expect(server.status.refusedRequests == 3)
        // The first refusal is logged at once, the next ones wait for the 10 s bound.
        #expect(events.all.filter { if case .requestRefused = $0 { true } else { false } }
            == [.requestRefused(client: "127.0.0.1", unit: 2, function: 3, exception: .gatewayPathUnavailable, count: 1)])
        // Stopping closes the client.
        await server.stop()
        #expect(try readFrames(1, from: socket) == ([], true))
        #expect(events.all.last == .clientDisconnected(client: "127.0.0.1", reason: "server stopped"))
        await bench.shutdown()
    }

    @Test("The server listens on IPv6 too")
    func ipv6() async throws {
        let bench = try RTUBench()
        bench.controller.setRegisters(.inputRegisters, address: 5, [0xBEEF])
        let server = try BusServer.start(BusServerConfiguration(bus: "line", host: "::1", port: 0, units: [1]), bus: bench.bus)
        #expect(server.address == "tcp://[::1]:\(server.port)")
        let socket = try Socket.connect(host: "::1", port: server.port, timeout: .seconds(5))
        try socket.writeAll(MBAPFrame(transactionID: 0xABCD, unit: 1, pdu: [0x04, 0x00, 0x05, 0x00, 0x01]).bytes)
        #expect(try readFrames(1, from: socket).frames == [MBAPFrame(transactionID: 0xABCD, unit: 1, pdu: [0x04, 0x02, 0xBE, 0xEF])])
        await server.stop()
        await bench.shutdown()
    }

    @Test("A client over maxConnections is closed at once; an idle one is disconnected")
    func connectionLimits() async throws {
        let bench = try RTUBench()
        let events = Events()
        let server = try BusServer.start(BusServerConfiguration(bus: "line", host: "127.0.0.1", port: 0, units: [1],
                                                                maximumConnections: 1, idleTimeout: .seconds(1)),
                                         bus: bench.bus, events: events.record)
        #expect(events.all.first == .listening(address: "tcp://127.0.0.1:\(server.port)"))
        let first = try connect(server)
        // The first client is served.
        try first.writeAll(MBAPFrame(transactionID: 9, unit: 1, pdu: [0x03, 0x00, 0x00, 0x00, 0x01]).bytes)
        #expect(try readFrames(1, from: first).frames.map(\.transactionID) == [9])
        // A second one is closed at once (a reset that may come before its connect returns).
        do {
            let second = try connect(server)
            #expect(try readFrames(1, from: second) == ([], true))
        } catch {
            #expect((error as? Errno)?.rawValue == ECONNRESET, "\(error)")
        }
        #expect(await eventually { server.status.refusedConnections == 1 })
        // The first one, left idle, is disconnected.
        #expect(try readFrames(1, from: first) == ([], true))
        #expect(server.status.idleDisconnects == 1)
        #expect(await eventually { events.all.contains(.clientDisconnected(client: "127.0.0.1", reason: "idle")) })
        await server.stop()
        await bench.shutdown()
    }
}
