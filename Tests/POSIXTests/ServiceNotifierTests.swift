import Glibc
import POSIX
import Testing
import TestSupport

@Suite("ServiceNotifier: sd_notify's datagrams, written without libsystemd")
struct ServiceNotifierTests {
    @Test("Each message is one datagram of KEY=value lines, to a path or an abstract name")
    func datagrams() throws {
        let folder = TemporaryFolder()
        let socket = try NotifySocket(path: folder.path + "/notify")
        let notifier = try ServiceNotifier(address: socket.path)
        #expect(notifier.ready(status: "serving 2 devices"))
        #expect(socket.receive() == "READY=1\nSTATUS=serving 2 devices")
        #expect(notifier.watchdog())
        #expect(socket.receive() == "WATCHDOG=1")
        #expect(notifier.reloading())
        let reloading = try #require(socket.receive())
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(Int64(reloading.split(separator: "=").last ?? "").map { $0 > 0 } == true, "\(reloading)")
        #expect(notifier.stopping())
        #expect(socket.receive() == "STOPPING=1")

        // An abstract socket: "@name" on the environment, a leading NUL on the wire.
        let name = "modbridge-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let abstract = try NotifySocket(path: "\0" + name)
        #expect(try ServiceNotifier(address: "@" + name).watchdog())
        #expect(abstract.receive() == "WATCHDOG=1")
    }

    @Test("The environment decides: no NOTIFY_SOCKET, no notifier; WATCHDOG_USEC only for the watched process")
    func environment() throws {
        #expect(ServiceNotifier.fromEnvironment([:]) == nil)
        #expect(ServiceNotifier.fromEnvironment(["NOTIFY_SOCKET": "relative/path"]) == nil)
        let watched = try #require(ServiceNotifier.fromEnvironment(["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"], pid: 42))
        #expect(watched.watchdogTimeout == .seconds(30))
        #expect(ServiceNotifier.fromEnvironment(["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"], pid: 42)?
            .watchdogTimeout == .seconds(30))
        #expect(ServiceNotifier.fromEnvironment(["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"], pid: 42)?
            .watchdogTimeout == nil)
        #expect(ServiceNotifier.fromEnvironment(["NOTIFY_SOCKET": "@abstract", "WATCHDOG_USEC": "0"])?.watchdogTimeout == nil)
    }
}
