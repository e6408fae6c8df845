import GatewayCore
import Testing

/// The runtime's lifecycle without a runtime: which of reload's and stop's steps may run, for
/// every order in which SIGHUP and SIGTERM can reach the actor.
@Suite("Runtime lifecycle: reloads and stops in every order")
struct RuntimeLifecycleTests {
    @Test("A reload runs from running and returns to running")
    func reload() {
        var lifecycle = RuntimeLifecycle()
        #expect(lifecycle.beginReload() == .proceed)
        #expect(lifecycle.phase == .reloading && lifecycle.mayStart)
        #expect(lifecycle.endReload() == false)
        #expect(lifecycle.phase == .running)
    }

    @Test("Reloads asked for during a reload make one more, after it")
    func reloadDuringReload() {
        var lifecycle = RuntimeLifecycle()
        #expect(lifecycle.beginReload() == .proceed)
        #expect(lifecycle.beginReload() == .deferred)
        #expect(lifecycle.beginReload() == .deferred)
        #expect(lifecycle.endReload() == true)  // the deferred one runs now, once
        #expect(lifecycle.phase == .reloading)
        #expect(lifecycle.endReload() == false)
        #expect(lifecycle.phase == .running && !lifecycle.reloadPending)
    }

    @Test("A stop during a reload: the reload starts nothing more, no deferred reload follows, and the stop runs")
    func stopDuringReload() {
        var lifecycle = RuntimeLifecycle()
        #expect(lifecycle.beginReload() == .proceed)
        #expect(lifecycle.beginReload() == .deferred)
        #expect(lifecycle.beginStop() == .proceed)
        #expect(!lifecycle.mayStart)
        #expect(lifecycle.endReload() == false)
        #expect(lifecycle.phase == .stopping)
        lifecycle.endStop()
        #expect(lifecycle.phase == .stopped)
    }

    @Test("A reload after a stop (or during one) is refused; a second stop has nothing to do")
    func afterStop() {
        var lifecycle = RuntimeLifecycle()
        #expect(lifecycle.beginStop() == .proceed)
        #expect(lifecycle.beginReload() == .refused)
        #expect(lifecycle.beginStop() == .alreadyStopping)
        lifecycle.endStop()
        #expect(lifecycle.beginReload() == .refused)
        #expect(lifecycle.beginStop() == .alreadyStopping)
        #expect(lifecycle.phase == .stopped && !lifecycle.mayStart)
    }
}
