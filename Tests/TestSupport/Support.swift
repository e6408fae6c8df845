import Glibc
import Synchronization

/// A temporary folder, removed with everything in it when the test is done.
package final class TemporaryFolder {
    package let path: String

    package init() {
        var template = Array("/tmp/modbridge-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? "/tmp"
    }

    deinit { remove(path) }

    private func remove(_ folder: String) {
        for name in directoryEntries(folder) ?? [] {
            let child = folder + "/" + name
            var info = stat()
            if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { remove(child) } else { unlink(child) }
        }
        rmdir(folder)
    }
}

/// Temporary folders that live as long as their owner (a suite instance, which Swift Testing
/// keeps until the test method has returned): each is removed only after what the test opened in
/// it (a queue, a log, whose last writes happen when they are released) is gone. A local
/// `TemporaryFolder` may be released as soon as its last use, before such an object.
package final class TemporaryFolders {
    private var made: [TemporaryFolder] = []

    package init() {}

    /// A new folder, removed with the others when this object goes.
    package func make() -> TemporaryFolder {
        let folder = TemporaryFolder()
        made.append(folder)
        return folder
    }
}

/// The names in a folder, without "." and ".."; nil if it cannot be opened. Each name is read
/// up to its NUL through a pointer: an entry readdir returns is d_reclen bytes, often fewer than
/// a whole `dirent`, so copying `d_name` (256 bytes) can read past the end of readdir's buffer
/// (it crashed the abuse probe once).
package func directoryEntries(_ folder: String) -> [String]? {
    guard let directory = opendir(folder) else { return nil }
    defer { closedir(directory) }
    guard let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) else { return nil }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Waits (polling, bounded: 5 s) until `condition` holds; false if it never did.
package func eventually(_ condition: () -> Bool, attempts: Int = 500) async -> Bool {
    for _ in 0..<attempts {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A free TCP port on 127.0.0.1 for a server a test starts, never handed out twice in this process.
/// Picked below the kernel's ephemeral range: a port found by binding port 0 comes from that range,
/// and between the check and the server's bind any outgoing connection of a test running beside
/// (thousands, in the broker probes) could take it as its source port, so the server's bind failed
/// now and then ("the gateway's broker never listened").
package func freePort() -> UInt16 {
    let firstEphemeral = ephemeralPortStart()
    if firstEphemeral > 12_000 {
        for _ in 0..<200 {
            let candidate = UInt16.random(in: 10_000...(firstEphemeral - 1))
            guard portsHandedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
            if bindsOnLoopback(candidate) != nil { return candidate }
        }
    }
    // No room below the ephemeral range: the kernel's pick, as before.
    let port = bindsOnLoopback(0) ?? 0
    portsHandedOut.withLock { _ = $0.insert(port) }
    return port
}

private let portsHandedOut = Mutex<Set<UInt16>>([])

/// The first port of /proc/sys/net/ipv4/ip_local_port_range (32768 by default).
private func ephemeralPortStart() -> UInt16 {
    guard let file = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r") else { return 32_768 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 64)
    guard fgets(&line, Int32(line.count), file) != nil,
          let first = String(cString: line).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap({ UInt16($0) })
    else { return 32_768 }
    return first
}

/// Binds 127.0.0.1:`port` (0: any) and closes it again; the port bound, or nil if it was taken.
private func bindsOnLoopback(_ port: UInt16) -> UInt16? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    return bound ? UInt16(bigEndian: address.sin_port) : nil
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` now.
package func acceptsConnections(port: UInt16) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// A small deterministic generator, so that a failing random round can be replayed.
package struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A Mosquitto broker on 127.0.0.1 and a free port, for tests against a broker no one here wrote.
package final class MosquittoBroker {
    package let port: UInt16
    private let folder = TemporaryFolder()
    private let process: ChildProcess

    package init() throws {
        port = freePort()
        let configuration = folder.path + "/mosquitto.conf"
        let text = "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\n"
        guard let file = fopen(configuration, "w") else { throw ChildProcessError.spawnFailed("mosquitto", errno) }
        fputs(text, file)
        fclose(file)
        process = try ChildProcess(mosquittoExecutable, ["-c", configuration])
        // Ready when the port accepts a connection.
        for _ in 0..<500 {
            if acceptsConnections(port: port) { return }
            usleep(10_000)
        }
    }

    package func stop() { process.stop() }
}

/// The built `modbridge` binary: it sits beside the test bundle in the build folder.
package var modbridgeExecutable: String {
    let bundle = CommandLine.arguments.first ?? ""
    var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let path = realpath(bundle, &resolved) != nil ? String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : bundle
    let folder = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return folder + "/modbridge"
}

/// Raises this process's soft descriptor limit toward `count` (up to the hard limit), so a test's
/// many connections fit beside the suites running in parallel; a broker in the process shares it.
package func raiseDescriptorLimit(to count: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(count) else { return }
    limit.rlim_cur = min(rlim_t(count), limit.rlim_max)
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
