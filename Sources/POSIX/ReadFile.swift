import Glibc

/// Every byte of the file at `path`, through the one checked-syscall helper (EINTR handled
/// there). A file longer than `limit` bytes is refused with EFBIG: a config, a certificate or a
/// sysfs attribute has a size its reader knows, and a device file or a mistake could be endless.
package func readWholeFile(_ path: String, limit: Int = 64 << 20) throws(Errno) -> [UInt8] {
    let descriptor = try checkedSyscall { open(path, O_RDONLY | O_CLOEXEC) }
    defer { _ = try? checkedSyscall(retryOnInterrupt: false) { close(descriptor) } }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: min(65_536, limit + 1))
    while true {
        let count = try checkedSyscall { chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) } }
        if count == 0 { return contents }
        contents += chunk[0..<count]
        if contents.count > limit { throw Errno(rawValue: EFBIG) }
    }
}
