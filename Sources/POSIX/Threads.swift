import Glibc
import Synchronization

/// A POSIX thread for blocking work (libmodbus, serial reads) that must stay off the Swift
/// concurrency pool.
package final class DedicatedThread: Sendable {
    private let handle: pthread_t
    private let joined = Mutex(false)

    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread called `name` (as `top -H` and /proc show it; the kernel
    /// keeps the first 15 bytes).
    package init(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        let start = Unmanaged.passRetained(Start(name, body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            guard let argument else { return nil }
            let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
            // Cut at a character boundary within 15 bytes; a failure only leaves the old name.
            var name = ""
            for character in start.name where name.utf8.count + character.utf8.count <= 15 { name.append(character) }
            nameCurrentThread(name)
            start.body()
            return nil
        }, start)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw Errno(rawValue: result)
        }
        handle = thread
    }

    /// Waits for the thread's body to return. Later calls return at once.
    package func join() {
        joined.withLock { joined in
            guard !joined else { return }
            _ = pthread_join(handle, nil)
            joined = true
        }
    }

    /// Lets the thread end on its own, reaped by the system: for a caller that must not block
    /// (an async function on the concurrency pool) and already knows the body is returning.
    /// Later `join` and `detach` calls return at once.
    package func detach() {
        joined.withLock { joined in
            guard !joined else { return }
            _ = pthread_detach(handle)
            joined = true
        }
    }
}

/// Names the calling thread through /proc/thread-self/comm (what pthread_setname_np does; Glibc's
/// Swift module does not export it). Best effort: a thread keeps its old name if this fails.
private func nameCurrentThread(_ name: String) {
    let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    _ = try? writeAll(descriptor, Array(name.utf8))
    close(descriptor)
}

/// A mutex-protected value with a condition variable, for a thread that sleeps until work comes.
package final class ConditionLock<State>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`; that is what makes the unchecked Sendable sound.
    private var state: State

    package init(_ state: State) {
        self.state = state
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Runs `body` with the state locked.
    package func withLock<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Changes the state and wakes the waiting thread.
    package func withLockAndSignal<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body(&state)
    }

    /// Waits until `take` returns a value, or `deadline` passes (then returns nil).
    /// `take` runs with the lock held each time the state may have changed.
    package func wait<Result>(until deadline: ContinuousClock.Instant?, _ take: (inout State) -> Result?) -> Result? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let result = take(&state) { return result }
            guard let deadline else {
                pthread_cond_wait(condition, mutex)
                continue
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return nil }
            var wakeAt = timespec()
            clock_gettime(CLOCK_MONOTONIC, &wakeAt)
            let nanoseconds = Int64(wakeAt.tv_nsec) + remaining.microseconds * 1000 + 1000
            wakeAt.tv_sec += Int(nanoseconds / 1_000_000_000)
            wakeAt.tv_nsec = Int(nanoseconds % 1_000_000_000)
            pthread_cond_timedwait(condition, mutex, &wakeAt)
        }
    }
}

/// Sleeps the calling thread (never a concurrency-pool thread) for `duration`, through EINTR.
package func sleepThread(_ duration: Duration) {
    guard duration > .zero else { return }
    let microseconds = duration.microseconds
    var request = timespec(tv_sec: Int(microseconds / 1_000_000), tv_nsec: Int(microseconds % 1_000_000) * 1000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR {
        request = remaining
    }
}

/// Puts the calling thread in Linux's idle scheduling class (sched(7), SCHED_IDLE): it runs only
/// when no normal thread wants the CPU. For background work that must never delay the threads
/// serving clients (password hashes during a login flood). Best effort: false if refused.
@discardableResult
package func runCurrentThreadAtIdlePriority() -> Bool {
    var parameters = sched_param()
    parameters.sched_priority = 0
    // SCHED_IDLE is 5 in <linux/sched.h>; Glibc exports it only under _GNU_SOURCE.
    let idlePolicy: Int32 = 5
    return sched_setscheduler(0, idlePolicy, &parameters) == 0
}

/// Runs blocking `body` (disk I/O, a join) on a thread of its own and returns its result to the
/// awaiting task, so that the Swift concurrency pool never waits on it. If no thread can be
/// started, `body` runs on the caller's thread rather than not at all.
package func onDedicatedThread<Value: Sendable>(named name: String, _ body: @escaping @Sendable () -> Value) async -> Value {
    await withCheckedContinuation { (done: CheckedContinuation<Value, Never>) in
        do {
            try DedicatedThread(name: name) { done.resume(returning: body()) }.detach()
        } catch {
            done.resume(returning: body())
        }
    }
}
