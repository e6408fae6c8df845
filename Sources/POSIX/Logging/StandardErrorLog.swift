import Glibc

/// The product's log handler: formats each record as a line and hands it to one writer thread
/// through a bounded queue, so a caller (the broker's reactor, a bus thread) never waits on a slow
/// or stuck standard error. When the queue is full the line is dropped and counted; the writer
/// reports the count as `level=warning event=log_lines_dropped count=N` once it can write again.
package final class StandardErrorLog: Sendable {
    private struct State {
        var queue: [String] = []
        var writing = false
        var droppedSinceReport = 0
        var droppedTotal = 0
        var stopping = false
    }

    private let state = ConditionLock(State())
    private let capacity: Int
    private let writer: DedicatedThread

    /// Starts the writer thread on `descriptor` (standard error unless a test passes a pipe);
    /// at most `capacity` lines wait for it.
    package init(descriptor: Int32 = STDERR_FILENO, capacity: Int = 4096) throws(Errno) {
        self.capacity = max(1, capacity)
        let state = self.state
        writer = try DedicatedThread(name: "log writer") {
            Self.writeLines(from: state, to: descriptor)
        }
    }

    /// A logger writing through this handler.
    package func logger(minimumLevel: Logger.Level = .info) -> Logger {
        Logger(minimumLevel: minimumLevel, flush: { self.flush() }) { record in self.enqueue(record.line) }
    }

    /// Lines dropped because the queue was full, since the start.
    package var droppedLines: Int { state.withLock { $0.droppedTotal } }

    /// Queues one line; never waits for the writer.
    package func enqueue(_ line: String) {
        state.withLockAndSignal { state in
            guard !state.stopping, state.queue.count < capacity else {
                state.droppedSinceReport += 1
                state.droppedTotal += 1
                return
            }
            state.queue.append(line)
        }
    }

    /// Waits until every queued line is written, at most `timeout` (a stuck standard error must
    /// not keep the process from exiting). Exit paths call it so a command's last lines are not lost.
    /// Returns false when the timeout passed first.
    @discardableResult
    package func flush(timeout: Duration = .seconds(2)) -> Bool {
        state.wait(until: .now + timeout) { state in
            state.queue.isEmpty && !state.writing && state.droppedSinceReport == 0 ? true : nil
        } ?? false
    }

    /// Writes what is queued, then ends the writer thread and waits for it.
    package func stop() {
        state.withLockAndSignal { $0.stopping = true }
        writer.join()
    }

    /// The writer thread: takes the whole queue at a time and writes it as one block, then the
    /// drop report; blocking here is the point (it is the only thread that waits on the descriptor).
    private static func writeLines(from state: ConditionLock<State>, to descriptor: Int32) {
        while true {
            let taken: (lines: [String], dropped: Int)? = state.wait(until: nil) { state in
                if !state.queue.isEmpty || state.droppedSinceReport > 0 {
                    let batch = (state.queue, state.droppedSinceReport)
                    state.queue.removeAll(keepingCapacity: true)
                    state.droppedSinceReport = 0
                    state.writing = true
                    return batch
                }
                return state.stopping ? ([], -1) : nil
            }
            guard let taken, taken.dropped >= 0 else { return }
            var text = ""
            for line in taken.lines { text += line + "\n" }
            if taken.dropped > 0 {
                text += LogRecord(level: .warning, event: "log_lines_dropped", fields: [("count", String(taken.dropped))]).line + "\n"
            }
            // A closed or failing standard error loses the text: there is nowhere left to report that.
            try? writeAll(descriptor, Array(text.utf8), timeout: .seconds(3600))
            state.withLockAndSignal { $0.writing = false }
        }
    }
}
