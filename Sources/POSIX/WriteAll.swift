import Glibc

/// Writes all of `bytes` to a descriptor (a pty, a pipe, standard output), waiting while it is
/// full, at most `timeout` each time.
package func writeAll(_ descriptor: Int32, _ bytes: [UInt8], timeout: Duration = .seconds(5)) throws(Errno) {
    try writeAll(bytes, waitingOn: descriptor, timeout: timeout) { Glibc.write(descriptor, $0, $1) }
}

/// The loop behind every "write it all": `call` writes from a pointer and a count as write(2)
/// does; EINTR is retried by `checkedSyscall`, EAGAIN waits for POLLOUT.
func writeAll(_ bytes: [UInt8], waitingOn descriptor: Int32, timeout: Duration,
              _ call: (UnsafeRawPointer, Int) -> Int) throws(Errno) {
    var offset = 0
    while offset < bytes.count {
        do {
            offset += try checkedSyscall { bytes.withUnsafeBytes { call($0.baseAddress! + offset, $0.count - offset) } }
        } catch {
            guard error.rawValue == EAGAIN else { throw error }
            var waiting = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            let ready = try checkedSyscall { poll(&waiting, 1, Int32(clamping: timeout.milliseconds)) }
            if ready == 0 { throw Errno(rawValue: ETIMEDOUT) }
        }
    }
}
