import Foundation
import Glibc
import Testing
import TestSupport

/// `modbridge run` under systemd's service protocol, with a datagram socket standing in for
/// systemd's, and the shipped unit file checked by `systemd-analyze verify`.
@Suite("systemd: READY, RELOADING, WATCHDOG and STOPPING from modbridge run; the unit file verifies")
struct SystemdServiceTests {
    @Test("modbridge run says READY=1 once serving, WATCHDOG=1 while its broker answers, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM")
    func notifications() async throws {
        let fixture = try GatewayFixture(units: [1], start: false)
        let socket = try NotifySocket(path: fixture.folder.path + "/notify")
        let process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", fixture.configFile],
                                       environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        defer { process.stop() }

        let ready = socket.receive { $0.hasPrefix("READY=1") }
        #expect(ready == "READY=1\nSTATUS=serving 1 devices on 1 buses")
        // READY=1 comes once the broker listens: a client can connect at once.
        #expect(acceptsConnections(port: fixture.port))
        // Every 200 ms (half of WatchdogSec), while the reactor answers.
        for _ in 0..<3 { #expect(socket.receive { $0 == "WATCHDOG=1" } != nil) }

        kill(process.pid, SIGHUP)
        let reloading = socket.receive { $0.hasPrefix("RELOADING=1") }
        #expect(reloading?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true, "\(reloading ?? "nothing")")
        #expect(socket.receive { $0.hasPrefix("READY=1") } == "READY=1\nSTATUS=reloaded \(fixture.configFile)")

        kill(process.pid, SIGTERM)
        #expect(socket.receive { $0.hasPrefix("STOPPING=1") } == "STOPPING=1")
        #expect(process.waitForExit(timeout: .seconds(20)) == 0)
    }

    @Test("Without NOTIFY_SOCKET nothing is sent and nothing is logged about systemd")
    func notUnderSystemd() throws {
        let fixture = try GatewayFixture(units: [1], start: false)
        let log = fixture.folder.path + "/gateway.log"
        let process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", fixture.configFile], standardErrorFile: log)
        defer { process.stop() }
        for _ in 0..<1000 where !acceptsConnections(port: fixture.port) { usleep(10_000) }
        kill(process.pid, SIGTERM)
        #expect(process.waitForExit(timeout: .seconds(20)) == 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("event=gateway_started"))
        #expect(!text.contains("service_notify"))
    }

    @Test("packaging/modbridge.service passes systemd-analyze verify (where systemd is installed)")
    func unitFileVerifies() throws {
        guard access("/usr/bin/systemd-analyze", X_OK) == 0 else { return }  // no systemd here: nothing to verify with
        let folder = TemporaryFolder()
        let unit = try String(contentsOfFile: CheckCommandTests.repository + "/packaging/modbridge.service", encoding: .utf8)
        // The packaged binary's path, pointed at the one built here: verify checks it exists.
        try unit.replacingOccurrences(of: "/usr/bin/modbridge", with: ModbridgeProcess.executable)
            .write(toFile: folder.path + "/modbridge.service", atomically: true, encoding: .utf8)
        let errors = folder.path + "/verify.err"
        let verify = try ChildProcess("systemd-analyze", ["verify", folder.path + "/modbridge.service"], standardErrorFile: errors)
        #expect(verify.waitForExit(timeout: .seconds(60)) == 0)
        // verify exits 0 even for a directive it ignores; what it prints is the finding.
        let findings = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(findings.isEmpty, "\(findings)")
        #expect(unit.contains("Type=notify") && unit.contains("WatchdogSec=") && unit.contains("User=modbridge")
                && unit.contains("SupplementaryGroups=dialout") && unit.contains("StateDirectory=modbridge"))
    }
}
