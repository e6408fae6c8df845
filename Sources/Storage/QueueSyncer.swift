// fsync for message queues, off the threads that own them: a queue hands out duplicated
// descriptors of what it wrote (MessageQueue.syncRequest), and a QueueSyncer thread runs
// fdatasync on them and closes them.

import Glibc
import POSIX
import Synchronization

/// Descriptors to sync, which the request owns: run() syncs and closes them (deinit closes any
/// left unsynced).
package final class QueueSyncRequest: Sendable {
    /// A duplicated descriptor of a segment file or of the queue's folder.
    struct File: Sendable {
        let descriptor: Int32
        let path: String
        let isDirectory: Bool
    }

    private let files: Mutex<[File]>

    init(files: [File]) {
        self.files = Mutex(files)
    }

    deinit {
        for file in files.withLock({ $0 }) { StorageFiles.closeDescriptor(file.descriptor) }
    }

    /// How many descriptors it holds (0 once run).
    package var descriptorCount: Int { files.withLock { $0.count } }

    /// fdatasync of each file (fsync of a folder), in order, then closes them all; the first
    /// failure is thrown after every descriptor was tried and closed. A second run does nothing.
    package func run() throws(StorageError) {
        let taken = files.withLock { files in
            defer { files.removeAll() }
            return files
        }
        var failure: StorageError?
        for file in taken {
            do throws(StorageError) {
                if file.isDirectory {
                    try StorageFiles.system(file.path, "fsync") { fsync(file.descriptor) }
                } else {
                    try StorageFiles.system(file.path, "fdatasync") { fdatasync(file.descriptor) }
                }
            } catch {
                failure = failure ?? error
            }
            StorageFiles.closeDescriptor(file.descriptor)
        }
        if let failure { throw failure }
    }
}

/// A thread that runs sync requests (fdatasync) so no event loop or bus thread waits for the disk.
package final class QueueSyncer: Sendable {
    private struct State {
        var requests: [QueueSyncRequest] = []
        var stopping = false
        var failures = 0
        var lastFailure: StorageError?
        var completed = 0
    }

    private let state: ConditionLock<State>
    private let thread: DedicatedThread

    /// Starts the thread.
    package init(name: String = "queue-sync") throws(StorageError) {
        let state = ConditionLock(State())
        self.state = state
        do {
            thread = try DedicatedThread(name: name) { Self.serve(state) }
        } catch {
            throw .failed(path: name, operation: "start thread", error)
        }
    }

    deinit { stop() }

    /// Queues a request for the thread (never blocks on the disk). After stop() the request is
    /// dropped unsynced (its descriptors closed).
    package func submit(_ request: QueueSyncRequest) {
        state.withLockAndSignal { state in
            guard !state.stopping else { return }
            state.requests.append(request)
        }
    }

    /// Runs what was submitted, then joins.
    package func stop() {
        state.withLockAndSignal { $0.stopping = true }
        thread.join()
    }

    /// Requests run so far, failed or not.
    package var completedRequests: Int { state.withLock { $0.completed } }
    /// Requests whose sync failed, and the last failure: the data of those writes may not be on
    /// disk (Linux can drop the dirty pages after a failed fsync).
    package var failures: (count: Int, last: StorageError?) { state.withLock { ($0.failures, $0.lastFailure) } }

    private static func serve(_ state: ConditionLock<State>) {
        while true {
            let taken = state.wait(until: nil) { state -> ([QueueSyncRequest], Bool)? in
                guard !state.requests.isEmpty || state.stopping else { return nil }
                defer { state.requests.removeAll() }
                return (state.requests, state.stopping)
            }
            // Waiting without a deadline returns only with a value.
            guard let (batch, stopping) = taken, !(batch.isEmpty && stopping) else { return }
            for request in batch {
                var failure: StorageError?
                do throws(StorageError) { try request.run() } catch { failure = error }
                state.withLock { state in
                    state.completed += 1
                    if let failure {
                        state.failures += 1
                        state.lastFailure = failure
                    }
                }
            }
        }
    }
}
