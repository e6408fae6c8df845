import Foundation
import Glibc
import Testing
import TestSupport

/// `modbridge run` gives back its start-up pages once (issue 18's footprint) and keeps polling,
/// publishing and answering on code faulted back from the page cache.
@Suite struct StartupPageReleaseTests {
    @Test("after startup_pages_released the gateway still publishes a changed register")
    func keepsWorkingAfterRelease() async throws {
        let gateway = try GatewayFixture(start: false)
        let controller = try gateway.controller()
        GatewayFixture.setKnownValues(on: controller)
        let logPath = gateway.folder.path + "/run.log"
        let process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", gateway.configFile], standardErrorFile: logPath)
        defer { _ = process.stop() }
        for _ in 0..<1000 where !acceptsConnections(port: gateway.port) { usleep(10_000) }
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/events"])
        defer { Task { await client.disconnect() } }

        var released: Substring?
        for _ in 0..<600 where released == nil {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            released = log.split(separator: "\n").first { $0.contains("event=startup_pages_released") }
            if released == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let line = try #require(released, "no startup_pages_released line within 60 s")
        let mappings = line.split(separator: " ").first { $0.hasPrefix("mappings=") }.flatMap { Int($0.dropFirst(9)) } ?? 0
        #expect(mappings > 0, "\(line)")

        let skip = inbox.messages.count
        controller.setRegisters(.holdingRegisters, address: 0, [815])
        let event = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events", after: skip) { $0["set_point"] as? Double == 81.5 }
        #expect(event != nil)
        #expect(process.isRunning)
    }
}
