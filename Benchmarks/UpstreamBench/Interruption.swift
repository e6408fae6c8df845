import Dispatch
import Foundation
import Glibc
import Synchronization

/// What an interrupted run (SIGINT, SIGTERM, SIGHUP) must undo before it exits: the child
/// processes still running and the temporary folder. A normal end or a thrown error undoes the
/// same through deinits; a signal would skip them.
final class Interruption: Sendable {
    private struct State {
        var children: Set<pid_t> = []
        var folders: [String] = []
    }

    private let state = Mutex(State())
    /// The signal sources, kept alive for the whole run (set once, before any other thread starts).
    nonisolated(unsafe) private var sources: [DispatchSourceSignal] = []

    static let shared = Interruption()

    /// Takes over SIGINT, SIGTERM and SIGHUP: each stops the children, removes the folders and
    /// exits with 128 + the signal.
    func install() {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                undo()
                exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }

    func started(_ pid: pid_t) { _ = state.withLock { $0.children.insert(pid) } }
    func stopped(_ pid: pid_t) { _ = state.withLock { $0.children.remove(pid) } }
    func created(folder: String) { state.withLock { $0.folders.append(folder) } }

    private func undo() {
        let (children, folders) = state.withLock { ($0.children, $0.folders) }
        for pid in children { kill(pid, SIGTERM) }
        for pid in children {
            var status: Int32 = 0
            var exited = false
            for _ in 0..<100 {
                if waitpid(pid, &status, WNOHANG) != 0 { exited = true; break }
                usleep(50_000)
            }
            if !exited {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
            }
        }
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        FileHandle.standardError.write(Data("modbridge-upstream-bench: interrupted; children stopped, temporary files removed\n".utf8))
    }
}
