import Glibc

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

/// A free TCP port on 127.0.0.1, found by binding port 0.
package func freePort() -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    return UInt16(bigEndian: address.sin_port)
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
        let executable = access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto"
        process = try ChildProcess(executable, ["-c", configuration])
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
