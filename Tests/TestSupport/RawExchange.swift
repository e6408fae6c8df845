import Glibc
import MQTT
import POSIX

/// What a server sent back on one connection: every byte until it closed (or the wait ended).
package struct RawExchange: Equatable, CustomStringConvertible {
    package var bytes: [UInt8]
    /// True if the server closed the connection (end of stream or a reset); false if it was
    /// still open when the wait ended.
    package var closed: Bool

    package init(bytes: [UInt8], closed: Bool) {
        self.bytes = bytes
        self.closed = closed
    }

    /// The bytes decoded as server packets with the MQTT module's framer; nil and the error if
    /// they do not decode (trailing bytes of a packet cut short are left out).
    package var packets: Result<[MQTTPacket], MQTTError> {
        var framer = MQTTFramer()
        framer.append(bytes)
        var packets: [MQTTPacket] = []
        do {
            while let packet = try framer.next() { packets.append(packet) }
        } catch {
            return .failure(error)
        }
        return .success(packets)
    }

    package var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + (closed ? " <closed>" : " <open>")
    }
}

/// Opens a connection to 127.0.0.1:`port`, writes `bytes` in one write, and collects what the
/// server sends until it closes the connection or `timeout` passes. With `halfClose` the bytes
/// and the FIN leave in one segment (TCP_CORK, then shutdown(SHUT_WR)), so the server reads
/// them and the end of the stream in the same turn.
package func exchange(port: UInt16, _ bytes: [UInt8], halfClose: Bool = false, timeout: Duration = .seconds(5)) throws -> RawExchange {
    let socket = try Socket.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
    defer { socket.close() }
    var one: Int32 = 1
    if halfClose { _ = setsockopt(socket.descriptor, Int32(IPPROTO_TCP), TCP_CORK, &one, socklen_t(MemoryLayout<Int32>.size)) }
    try socket.writeAll(bytes)
    if halfClose { _ = shutdown(socket.descriptor, Int32(SHUT_WR)) }
    return receiveUntilClosed(socket, timeout: timeout)
}

/// Reads from `socket` until the peer closes it or `timeout` passes.
package func receiveUntilClosed(_ socket: Socket, timeout: Duration) -> RawExchange {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16_384)
    while true {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return RawExchange(bytes: received, closed: false) }
        do {
            guard try socket.wait(for: Int16(POLLIN), timeout: remaining) else { continue }
            let count = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
            guard let count else { continue }
            if count == 0 { return RawExchange(bytes: received, closed: true) }
            received += buffer[0..<count]
        } catch {
            // ECONNRESET and the like: the server is gone.
            return RawExchange(bytes: received, closed: true)
        }
    }
}
