import Glibc
import POSIX
import Synchronization
import Testing

@Suite("Threads: idle scheduling class for background work")
struct IdlePriorityTests {
    @Test("A thread that asks for the idle class is in SCHED_IDLE (5) afterwards; other threads keep theirs")
    func idleClass() throws {
        let seen = Mutex<(before: Int32, after: Int32, granted: Bool)>((-1, -1, false))
        let thread = try DedicatedThread(name: "idle-test") {
            let before = sched_getscheduler(0)
            let granted = runCurrentThreadAtIdlePriority()
            seen.withLock { $0 = (before, sched_getscheduler(0), granted) }
        }
        thread.join()
        let result = seen.withLock { $0 }
        #expect(result.granted)
        #expect(result.before == SCHED_OTHER && result.after == 5)
        #expect(sched_getscheduler(0) == SCHED_OTHER)
    }
}
