import Glibc

/// A program a test starts (a broker, a peer) and must stop: spawned with default signal
/// dispositions and an empty signal mask (a child of a concurrency-pool thread would otherwise
/// inherit blocked SIGTERM), stopped with SIGTERM then SIGKILL, and always reaped.
package final class ChildProcess {
    package let pid: pid_t
    private var outputDescriptor: Int32
    private var reaped = false
    private var pendingOutput: [UInt8] = []

    /// Starts `executable` (looked up in PATH) with `arguments`; its stdout is readable with
    /// `readLine`, its stderr goes to /dev/null unless `inheritStandardError`, or to the file
    /// `standardErrorFile` (created or truncated). `environment` is added to this process's.
    package init(_ executable: String, _ arguments: [String], inheritStandardError: Bool = false, standardErrorFile: String? = nil,
                 environment: [String: String] = [:]) throws {
        var pipeDescriptors: [Int32] = [-1, -1]
        guard pipe(&pipeDescriptors) == 0 else { throw ChildProcessError.spawnFailed(executable, errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeDescriptors[1], STDOUT_FILENO)
        posix_spawn_file_actions_addclose(&actions, pipeDescriptors[0])
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        if let standardErrorFile {
            posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, standardErrorFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        } else if !inheritStandardError {
            posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var inherited: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if !environment.keys.contains(where: { text.hasPrefix($0 + "=") }) { inherited.append(text) }
            entry += 1
        }
        let envp = (inherited + environment.map { "\($0.key)=\($0.value)" }).map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawnp(&child, executable, &actions, &attributes, argv, envp)
        close(pipeDescriptors[1])
        guard result == 0 else {
            close(pipeDescriptors[0])
            throw ChildProcessError.spawnFailed(executable, result)
        }
        pid = child
        outputDescriptor = pipeDescriptors[0]
    }

    deinit { stop() }

    /// The next line of the child's stdout, or nil at its end or after `timeout`.
    package func readLine(timeout: Duration = .seconds(30)) -> String? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = pendingOutput.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pendingOutput[..<newline], as: UTF8.self)
                pendingOutput.removeFirst(newline + 1)
                return line
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero, outputDescriptor >= 0 else { return nil }
            var waiting = pollfd(fd: outputDescriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard poll(&waiting, 1, milliseconds) > 0 else { continue }
            let count = read(outputDescriptor, &buffer, buffer.count)
            if count <= 0 { return nil }
            pendingOutput += buffer[0..<count]
        }
    }

    /// True while the child has not exited.
    package var isRunning: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reaped = true
            return false
        }
        return true
    }

    /// SIGKILL, as a crash or `kill -9` would end it; reaps the child.
    package func kill() {
        guard !reaped else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        reaped = true
        if outputDescriptor >= 0 { close(outputDescriptor); outputDescriptor = -1 }
    }

    /// Waits up to `timeout` for the child to end by itself, sending no signal (for a program that
    /// runs to its end and whose exit status matters); past the deadline stops it as `stop()` does.
    /// Reaps the child. Returns its wait status (`exitCode(_:)` reads it).
    @discardableResult
    package func waitForExit(timeout: Duration = .seconds(60)) -> Int32 {
        guard !reaped else { return 0 }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                if outputDescriptor >= 0 { close(outputDescriptor); outputDescriptor = -1 }
                return status
            }
            usleep(1_000)
        }
        return stop()
    }

    /// The exit code in a wait status; nil if the child was ended by a signal.
    package static func exitCode(_ status: Int32) -> Int32? {
        status & 0x7F == 0 ? (status >> 8) & 0xFF : nil
    }

    /// SIGTERM, up to 5 s to exit, then SIGKILL; reaps the child. Returns its wait status.
    @discardableResult
    package func stop() -> Int32 {
        defer {
            if outputDescriptor >= 0 { close(outputDescriptor); outputDescriptor = -1 }
        }
        guard !reaped else { return 0 }
        Glibc.kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<500 {
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                return status
            }
            usleep(10_000)
        }
        Glibc.kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        reaped = true
        return status
    }
}

package enum ChildProcessError: Error, CustomStringConvertible {
    case spawnFailed(String, Int32)

    package var description: String {
        switch self {
        case let .spawnFailed(executable, code): "cannot start \(executable): \(String(cString: strerror(code)))"
        }
    }
}
