import Foundation
import GatewayCore
import Glibc
import TestSupport
import Testing
import TLS

/// `modbridge run` on the demo config (two simulated controllers, the embedded broker, an HTTP
/// listener serving WebSocket MQTT, the console and metrics), reached as a user and a monitoring
/// system would: headless Chromium logs into the console, paho-mqtt over WebSocket logs in with the
/// registry's password, prometheus_client parses /metrics.
@Suite("The console, WebSocket MQTT and /metrics of a running gateway, with real clients", .serialized)
final class ConsoleBrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let password = "Console-Test-Pass-42"

    let folder = TemporaryFolder()
    let mqttPort = freePort()
    let httpPort = freePort()
    let process: ChildProcess
    /// The wall clock just before the gateway was started, in seconds since the Unix epoch.
    let startedAt: Double

    /// The demo config with these ports and a password for registry "demo".
    init() throws {
        var config = try String(contentsOfFile: Self.repository + "/examples/demo.json", encoding: .utf8)
        let hash = try PasswordHash.make(password: Self.password).encoded
        config = config.replacingOccurrences(of: "\"port\": 1883", with: "\"port\": \(mqttPort)")
            .replacingOccurrences(of: "\"port\": 8080", with: "\"port\": \(httpPort)")
            .replacingOccurrences(of: "\"../mappings\"", with: "\"\(Self.repository)/mappings\"")
            .replacingOccurrences(of: "{ \"id\": \"demo\", \"devices\"", with: "{ \"id\": \"demo\", \"credentials\": { \"passwords\": [\"\(hash)\"] }, \"devices\"")
        #expect(config.contains(hash) && config.contains("\(httpPort)"), "the demo config changed shape")
        try config.write(toFile: folder.path + "/demo.json", atomically: true, encoding: .utf8)
        startedAt = Date().timeIntervalSince1970
        process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", folder.path + "/demo.json"],
                                   standardErrorFile: folder.path + "/run.log")
        for _ in 0..<1000 where !acceptsConnections(port: httpPort) { usleep(10_000) }
    }

    deinit { _ = process.stop() }

    private var log: String { (try? String(contentsOfFile: folder.path + "/run.log", encoding: .utf8)) ?? "" }

    @Test("Chromium logs in with the registry's password, sees both devices' values change, writes a set point through the confirm step and sees its ack")
    func browserSession() throws {
        // Kept after the test (the issue asks for it): .build/test-artifacts/console.png, and the
        // same page at a phone's width, console-phone.png.
        let artifacts = Self.repository + "/.build/test-artifacts"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts + "/console.png"
        let phoneScreenshot = artifacts + "/console-phone.png"
        for file in [screenshot, phoneScreenshot] { try? FileManager.default.removeItem(atPath: file) }
        let browser = try ChildProcess("python3", ["-B", Self.repository + "/Tests/Peers/console_browser.py",
                                                   "--url", "http://127.0.0.1:\(httpPort)", "--username", "demo",
                                                   "--password", Self.password, "--device", "oven-1", "--point", "set_point",
                                                   "--value", "80", "--screenshot", screenshot, "--phone-screenshot", phoneScreenshot],
                                   inheritStandardError: true,
                                   // Chromium's profile, caches and temporary files go into this test's folder.
                                   environment: ["TMPDIR": folder.path, "HOME": folder.path, "XDG_CONFIG_HOME": folder.path + "/.config",
                                                 "XDG_CACHE_HOME": folder.path + "/.cache"])
        let line = try #require(browser.readLine(timeout: .seconds(180)), "the browser test printed nothing; gateway log:\n\(log)")
        #expect(browser.waitForExit() == 0, "\(line)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(summary["ok"] as? Bool == true, "\(line)")
        #expect(summary["scriptWithoutLogin"] as? Int == 401)
        #expect(summary["confirm"] as? String == "Set oven-1 set_point from 65 to 80 °C?")
        #expect((summary["ack"] as? String)?.hasPrefix("ok") == true, "\(line)")
        #expect(summary["valueAfterWrite"] as? String == "80 °C")
        let changes = summary["changes"] as? [String: Int] ?? [:]
        #expect(changes.keys.sorted() == ["oven-1", "oven-2"] && changes.values.allSatisfy { $0 > 0 }, "\(line)")
        // Readable on a phone: no sideways scrolling, every card and its controls within the width.
        let phone = summary["phone"] as? [String: Any] ?? [:]
        #expect((phone["width"] as? Int).map { $0 <= 400 } == true && (phone["problems"] as? [String])?.isEmpty == true, "\(line)")
        // The screenshots are PNGs.
        for file in [screenshot, phoneScreenshot] {
            let png = try #require(FileManager.default.contents(atPath: file), "\(file)")
            #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        }
        // The gateway logged the console's login.
        #expect(log.contains("event=console_login") && log.contains("entity=demo"), "\(log)")
    }

    @Test("Without login only the login page is served; a wrong password is refused and counted")
    func nothingWithoutLogin() throws {
        let connection = try HTTPTestConnection(port: httpPort)
        let root = try #require(try connection.get("/"))
        #expect(root.status == 303 && root.header("Location") == "/login")
        for path in ["/console.js", "/console.css", "/api/devices", "/api/config", "/api/session"] {
            #expect(try connection.get(path)?.status == 401, "\(path)")
        }
        let login = try #require(try connection.get("/login"))
        #expect(login.status == 200 && login.text.contains("name=\"password\""))
        let body = "username=demo&password=wrong"
        try connection.send("POST /login HTTP/1.1\r\nHost: 127.0.0.1:\(httpPort)\r\nOrigin: http://127.0.0.1:\(httpPort)\r\n"
                            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let refused = try #require(connection.readResponse(timeout: .seconds(30)))
        #expect(refused.status == 303 && refused.header("Location") == "/login?failed=1" && refused.header("Set-Cookie") == nil)
        let metrics = try #require(try connection.get("/metrics"))
        #expect(metrics.text.contains("modbridge_broker_logins_refused_total 1\n"), "\(metrics.text)")
    }

    @Test("paho-mqtt over WebSocket logs in with the registry's password and reads its devices' events under its access rules")
    func pahoWebSocketLogin() throws {
        let subscriber = try PahoPeer(["sub", "--port", String(httpPort), "--websocket", "/mqtt",
                                                    "--username", "demo", "--password", Self.password,
                                                    "--topic", "$devices/oven-2/events", "--qos", "1", "--count", "1"])
        #expect(subscriber.waitFor { $0.hasPrefix("subscribed") } == "subscribed 1", "gateway log:\n\(log)")
        let message = try #require(subscriber.waitFor { $0.hasPrefix("msg ") })
        #expect(message.hasPrefix("msg $devices/oven-2/events 1 0 7b"))  // a JSON object
        #expect(subscriber.finish() == 0)
        // The wrong password over WebSocket: CONNACK 4, as over TCP.
        let stranger = try PahoPeer(["sub", "--port", String(httpPort), "--websocket", "/mqtt",
                                                  "--username", "demo", "--password", "not-it", "--topic", "#", "--count", "1", "--timeout", "10"])
        #expect(stranger.waitFor { $0.hasPrefix("refused") } != nil)
        _ = stranger.finish()
    }

    @Test("/metrics parsed by prometheus_client: both devices online, the bus polled, the broker counted; /healthz ok")
    func metricsAndHealth() throws {
        let connection = try HTTPTestConnection(port: httpPort)
        var samples: [String: Double] = [:]
        // Until both devices have answered (the gateway has just started).
        for _ in 0..<100 {
            let page = try #require(try connection.get("/metrics"))
            #expect(page.status == 200 && page.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            samples = try Self.parse(page.body, in: folder)
            if samples["modbridge_device_online{bus=sim,device=oven-1,unit=1}"] == 1,
               samples["modbridge_device_online{bus=sim,device=oven-2,unit=2}"] == 1 { break }
            usleep(100_000)
        }
        #expect(samples["modbridge_device_online{bus=sim,device=oven-1,unit=1}"] == 1, "\(samples)")
        #expect(samples["modbridge_device_online{bus=sim,device=oven-2,unit=2}"] == 1)
        #expect((samples["modbridge_bus_transactions_total{bus=sim}"] ?? 0) > 0)
        #expect(samples["modbridge_bus_timeouts_total{bus=sim}"] == 0)
        #expect((samples["modbridge_broker_messages_received_total"] ?? 0) > 0)
        // Which build, and the process as Prometheus's own collectors describe one.
        #expect(samples["modbridge_build_info{version=\(ModbridgeVersion.current)}"] == 1, "\(samples)")
        #expect((samples["process_cpu_seconds_total"] ?? 0) > 0)
        let resident = try #require(samples["process_resident_memory_bytes"])
        #expect(resident > 1_048_576 && resident <= samples["process_virtual_memory_bytes"] ?? 0)
        let started = try #require(samples["process_start_time_seconds"])
        #expect(started >= startedAt - 2 && started <= Date().timeIntervalSince1970, "started \(started), spawned \(startedAt)")
        #expect((samples["process_threads"] ?? 0) >= 3)
        // The gateway's own descriptor limit, as the kernel reports it for that process.
        let limits = try String(contentsOfFile: "/proc/\(process.pid)/limits", encoding: .utf8)
        let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let soft = openFiles.split(separator: " ", omittingEmptySubsequences: true)[3]
        #expect(samples["process_max_fds"] == Double(soft), "\(openFiles)")
        #expect((samples["process_open_fds"] ?? 0) >= 5 && (samples["process_open_fds"] ?? 0) <= samples["process_max_fds"] ?? 0)
        let health = try #require(try connection.get("/healthz"))
        #expect(health.status == 200 && health.text == "ok\n")
    }

    /// The samples prometheus_client read from `page`, keyed `name{label=value,…}` (labels sorted).
    static func parse(_ page: [UInt8], in folder: TemporaryFolder) throws -> [String: Double] {
        let file = folder.path + "/metrics.txt"
        try Data(page).write(to: URL(fileURLWithPath: file))
        let parser = try ChildProcess("python3", ["-B", repository + "/Tests/Peers/prometheus_parse.py", file], inheritStandardError: true)
        let line = try #require(parser.readLine(timeout: .seconds(30)))
        #expect(parser.waitForExit() == 0, "\(line)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        var samples: [String: Double] = [:]
        for family in object["families"] as? [[String: Any]] ?? [] {
            for sample in family["samples"] as? [[String: Any]] ?? [] {
                let labels = (sample["labels"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                let name = (sample["name"] as? String ?? "") + (labels.isEmpty ? "" : "{\(labels.joined(separator: ","))}")
                samples[name] = (sample["value"] as? NSNumber)?.doubleValue
            }
        }
        return samples
    }
}

/// Tests/Peers/paho_peer.py, read line by line.
private final class PahoPeer {
    let process: ChildProcess

    init(_ arguments: [String]) throws {
        process = try ChildProcess("python3", ["-B", ConsoleBrowserTests.repository + "/Tests/Peers/paho_peer.py"] + arguments,
                                   inheritStandardError: true)
    }

    deinit { _ = process.stop() }

    /// The first line that satisfies `match`; nil if the peer ends or stays quiet for 30 s.
    func waitFor(_ match: (String) -> Bool) -> String? {
        while let line = process.readLine(timeout: .seconds(30)) {
            if match(line) { return line }
        }
        return nil
    }

    /// Its exit status once it ends by itself (stopped after 30 s).
    func finish() -> Int32 {
        process.waitForExit(timeout: .seconds(30))
    }
}
