import POSIX
import TLS

/// Everything the loop holds for one link: its machine, source, socket, TLS session and the
/// bytes the socket has not taken yet. Loop thread only.
final class UpstreamLinkState {
    let handle: UpstreamLink
    let configuration: UpstreamLinkConfiguration
    let source: any UpstreamLinkSource
    var machine: UpstreamLinkMachine<ContinuousClock>
    var socket: Socket?
    /// The epoll token of the current socket (a new one per socket, so a stale event of a closed
    /// socket never reaches its successor).
    var token: UInt64 = 0
    /// A non-blocking connect is in progress: writable means it ended.
    var connecting = false
    var tls: TLSConnection?
    /// Bytes for the socket (ciphertext with TLS).
    var output = OutputBuffer()
    var watchingWritable = false
    var tickAt: ContinuousClock.Instant?
    /// When the source asked to be serviced again.
    var serviceAt: ContinuousClock.Instant?

    init(handle: UpstreamLink, configuration: UpstreamLinkConfiguration, source: any UpstreamLinkSource) {
        self.handle = handle
        self.configuration = configuration
        self.source = source
        machine = UpstreamLinkMachine(configuration: configuration)
    }

    var id: UInt64 { handle.id }

    var pendingOutput: Int { output.pendingCount }

    /// Queues bytes for the socket.
    func append(_ bytes: [UInt8]) {
        output.append(contentsOf: bytes)
    }

    /// Takes what the TLS session produced into the output.
    func collectTLSOutput() {
        if let tls, tls.hasOutput { append(tls.takeOutput()) }
    }

    /// Writes what the socket takes now; true when nothing is left.
    func writePending() throws(Errno) -> Bool {
        guard let socket else { return true }
        return try output.write(to: socket)
    }

    /// Drops the connection's socket, session and unsent bytes.
    func dropTransport(epoll: Epoll) {
        if let socket {
            epoll.remove(socket.descriptor)
            socket.close()
        }
        socket = nil
        tls = nil
        connecting = false
        watchingWritable = false
        output.release()
    }
}
