import Glibc
import Serial
import POSIX

/// Where a framed line's bytes go and come from: a serial port, or a TCP socket to a serial
/// device server. The answer readers (`RTUAnswerReader`, `ASCIIAnswerReader`) read through it,
/// so one reader serves both.
protocol LineByteSource: AnyObject {
    /// Waits up to `wait` (zero: no wait) for bytes and reads those that have arrived into the
    /// front of `chunk`: how many came, 0 if none did in time. A line that went away (hang-up,
    /// end of stream, reset) is an error.
    func readBytes(into chunk: inout [UInt8], waitingAtMost wait: Duration) throws(Errno) -> Int
    /// Writes all of `frame`.
    func writeFrame(_ frame: [UInt8]) throws(Errno)
    /// Drops what is still arriving until the line has been quiet for `quiet` (at most `limit`):
    /// how many bytes were dropped.
    func dropPending(quiet: Duration, limit: Duration) throws(Errno) -> Int
    /// Closes the line. Safe to call more than once.
    func close()
}

extension SerialError {
    /// The system error behind a failed read or write (EIO where there is none).
    var lineErrno: Errno {
        if case let .ioFailed(_, _, code) = self { return code }
        return Errno(rawValue: EIO)
    }
}

extension SerialPort: LineByteSource {
    func readBytes(into chunk: inout [UInt8], waitingAtMost wait: Duration) throws(Errno) -> Int {
        do {
            return try read(into: &chunk, waitingAtMost: wait)
        } catch {
            throw error.lineErrno
        }
    }

    func writeFrame(_ frame: [UInt8]) throws(Errno) {
        try POSIX.writeAll(fileDescriptor, frame)
    }

    func dropPending(quiet: Duration, limit: Duration) throws(Errno) -> Int {
        do {
            let dropped = try drainUntilQuiet(quiet: quiet, limit: limit)
            try discardInput()
            return dropped
        } catch {
            throw error.lineErrno
        }
    }
}

/// A TCP connection to a serial device server in transparent mode (Moxa NPort "TCP Server",
/// USR, Waveshare): the bytes written go onto its RS-485 line as they are, and what the line
/// carries back comes in. The one owner of its socket.
final class TCPLine: LineByteSource {
    private let socket: Socket

    private init(socket: Socket) { self.socket = socket }

    /// Connects to `host`:`port` within `timeout`, on the calling thread (the bus's own: the
    /// name lookup and the connect may block).
    static func connect(host: String, port: UInt16, timeout: Duration) throws(Errno) -> TCPLine {
        TCPLine(socket: try Socket.connect(host: host, port: port, timeout: timeout))
    }

    func readBytes(into chunk: inout [UInt8], waitingAtMost wait: Duration) throws(Errno) -> Int {
        guard try socket.wait(for: Int16(POLLIN), timeout: max(wait, .zero)) else { return 0 }
        let result = chunk.withUnsafeMutableBytes { buffer in Result { () throws(Errno) in try socket.read(into: buffer) } }
        guard let count = try result.get() else { return 0 }
        // The device server closed the connection (or restarted): the line is gone.
        if count == 0 { throw Errno(rawValue: ECONNRESET) }
        return count
    }

    func writeFrame(_ frame: [UInt8]) throws(Errno) {
        try socket.writeAll(frame)
    }

    func dropPending(quiet: Duration, limit: Duration) throws(Errno) -> Int {
        try drainUntilQuiet(quiet: quiet, limit: limit) { (buffer, wait) throws(Errno) in try readBytes(into: &buffer, waitingAtMost: wait) }
    }

    func close() { socket.close() }
}
