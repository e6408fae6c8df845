import Glibc
import POSIX

/// `modbridge broker` (the built binary) as a child process on 127.0.0.1, for probes that must
/// see the real program: its memory, its descriptors, a `kill -9`. Stopped by the test.
package final class ModbridgeBrokerProcess {
    package let port: UInt16
    package let process: ChildProcess

    /// Starts `modbridge broker --quiet --port PORT` plus `arguments` and waits (blocking, up to
    /// 10 s) until the port accepts connections.
    package init(_ arguments: [String] = [], port: UInt16 = freePort()) throws {
        self.port = port
        process = try ChildProcess(modbridgeExecutable, ["broker", "--quiet", "--port", String(port)] + arguments)
        for _ in 0..<1000 {
            if acceptsConnections(port: port) { return }
            guard process.isRunning else { break }
            usleep(10_000)
        }
        process.stop()
        throw ChildProcessError.spawnFailed("modbridge broker on port \(port)", ETIMEDOUT)
    }

    package var pid: pid_t { process.pid }
    package var isRunning: Bool { process.isRunning }

    /// VmRSS of the broker, in KiB.
    package var residentKilobytes: Int? { processStatusField("VmRSS", of: pid) }

    /// How many sockets the broker has open now (the listener and its connections). The runtime opens
    /// descriptors of its own (Dispatch's epoll, eventfd and timers), sometimes only after the
    /// broker has started serving, so a count of connections must leave those out.
    package var openSockets: Int? { openSocketCount(of: pid) }

    package func stop() { process.stop() }
    /// SIGKILL, as `kill -9` would end it.
    package func kill() { process.kill() }
}

/// A number field of /proc/PID/status ("VmRSS:   1234 kB" gives 1234); nil if it is not there.
package func processStatusField(_ name: String, of pid: pid_t) -> Int? {
    guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0, let line {
        let text = String(cString: line)
        guard text.hasPrefix(name + ":") else { continue }
        return Int(text.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
}

/// The entries of /proc/PID/fd that are sockets; nil if the process is not there.
package func openSocketCount(of pid: pid_t) -> Int? {
    guard let names = directoryEntries("/proc/\(pid)/fd") else { return nil }
    var target = [CChar](repeating: 0, count: 64)
    return names.filter { name in
        let length = readlink("/proc/\(pid)/fd/" + name, &target, target.count - 1)
        return length > 7 && target[0..<7].map { UInt8(bitPattern: $0) } == Array("socket:".utf8)
    }.count
}

/// Runs blocking `body` on a thread of its own and returns its result, so that long blocking
/// loops (sockets, child processes) leave the Swift concurrency pool to the suites running in
/// parallel.
package func onDedicatedThread<Result: Sendable>(_ name: String, _ body: @escaping @Sendable () -> Result) async -> Result {
    let box = ConditionLock<DedicatedThread?>(nil)
    let result: Result = await withCheckedContinuation { continuation in
        do {
            let thread = try DedicatedThread(name: name) { continuation.resume(returning: body()) }
            box.withLock { $0 = thread }
        } catch {
            // No thread to be had: run it here rather than not at all.
            continuation.resume(returning: body())
        }
    }
    box.withLock { $0 }?.join()
    return result
}
