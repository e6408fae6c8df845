import Foundation
import Glibc
import Modbus
import MQTT
import MQTTClient
import Testing
import TestSupport

/// `modbridge run` in upstream mode against a real Mosquitto the test starts: simulated
/// controllers on a pty the test owns (units 1 and 2, devices `oven-1` and `oven-2` of registry
/// `plant`), a counter register the test moves so every poll reports a new value, and Mosquitto
/// with a test CA, device users and an ACL that gives each device only `plant/<id>/#` (and
/// reading its registry's commands).
final class UpstreamGatewayFixture {
    /// How the devices log in upstream.
    enum Login: String, CaseIterable, CustomStringConvertible {
        /// Each device's own client certificate (CN = device id) on the TLS listener that requires one.
        case certificates
        /// Each device's own password over TLS.
        case passwords
        /// Each device's own password over plain TCP (the outage tests: no TLS cost in the way).
        case plainPasswords

        var description: String { rawValue }
    }

    static let deviceUsers = [MosquittoUser("oven-1", password: "oven-1-upstream-pw"), MosquittoUser("oven-2", password: "oven-2-upstream-pw")]

    /// The profile: a set point to command, and a counter the test moves (holding 10), polled every 100 ms.
    static let profile = """
    { "model": "upstream-test", "vendor": "modbridge tests",
      "defaults": { "interval": "100ms", "report": { "onChange": true, "heartbeat": "60s" } },
      "points": [
        { "name": "set_point", "table": "holding", "address": 0, "type": "int16", "scale": 0.1, "access": "readwrite", "min": 0, "max": 170 },
        { "name": "counter", "table": "holding", "address": 10, "type": "uint16" }
      ] }
    """

    let folder = TemporaryFolder()
    let certificates: TestCertificates
    let simulator: ModbusSimulator
    let mosquitto: MosquittoUpstream
    let localPort = freePort()
    let configFile: String
    private(set) var process: ChildProcess?
    private var starts = 0

    /// The log of the current run of the gateway (each start writes a new file).
    var logPath: String { folder.path + "/gateway-\(starts).log" }

    /// With `shared`, one connection for the gateway logs in as Mosquitto's consumer user (which
    /// may use every topic) with client id `gateway-1`; devices then carry no logins of their own.
    init(login: Login, mode: String = "upstream", shared: Bool = false, caName: String = "ca",
         password: (String) -> String? = { _ in nil }, replayRate: Int = 1000, persistence: Bool = false, metricsListener: Bool = false) throws {
        certificates = try TestCertificates()
        for user in Self.deviceUsers { try certificates.makeClientCertificate(user.name, commonName: user.name) }
        simulator = try ModbusSimulator.startRTU(controllers: [1, 2].map { SimulatedController(unit: $0, temperatureModel: false) })
        mosquitto = try MosquittoUpstream(MosquittoUpstreamOptions(users: Self.deviceUsers, devicePatterns: ["plant/%u/#"],
                                                                   extraACL: ["pattern read plant-registries/#"],
                                                                   persistence: persistence, certificates: certificates))
        try Self.profile.write(toFile: folder.path + "/upstream-test.json", atomically: true, encoding: .utf8)
        configFile = folder.path + "/modbridge.json"
        let url: String
        switch login {
        case .certificates: url = "mqtts://127.0.0.1:\(mosquitto.tlsPort ?? 0)"
        case .passwords: url = "mqtts://127.0.0.1:\(mosquitto.tlsPasswordPort ?? 0)"
        case .plainPasswords: url = "mqtt://127.0.0.1:\(mosquitto.port)"
        }
        let devices = Self.deviceUsers.enumerated().map { index, user in
            let credentials = switch login {
            case .certificates:
                #"{ "certificate": "\#(certificates.path(user.name + ".pem"))", "key": "\#(certificates.path(user.name + ".key"))" }"#
            case .passwords, .plainPasswords:
                #"{ "password": "\#(password(user.name) ?? user.password)" }"#
            }
            let upstream = shared ? "" : #", "upstream": \#(credentials)"#
            return #"{ "id": "\#(user.name)", "bus": "line", "unit": \#(index + 1), "profile": "upstream-test"\#(upstream) }"#
        }
        let ca = login == .plainPasswords ? "" : #""ca": "\#(certificates.path(caName + ".pem"))","#
        let connection = shared
            ? #""connection": "shared", "clientId": "gateway-1", "username": "consumer", "password": "consumer-password","#
            : #""connection": "per-device","#
        // In upstream mode, an HTTP listener for /metrics and /healthz on localPort when asked for.
        let listeners = mode != "upstream" ? #""listeners": [{ "host": "127.0.0.1", "port": \#(localPort), "anonymousAs": "plant" }],"#
            : metricsListener ? #""listeners": [{ "host": "127.0.0.1", "port": \#(localPort), "protocol": "http" }],"# : ""
        try """
        { "broker": { "mode": "\(mode)", \(listeners)
            "upstream": { "url": "\(url)", \(ca) \(connection) "keepAlive": "10s",
                          "topics": { "device": "plant/{id}", "registry": "plant-registries/{id}" },
                          "reconnect": { "initial": "200ms", "max": "2s" }, "queue": { "replayRate": \(replayRate) } } },
          "storage": "storage",
          "profiles": ["\(folder.path)/upstream-test.json"],
          "buses": [{ "id": "line", "type": "rtu", "device": "\(simulator.address)", "rs485": "off", "responseTimeout": "500ms" }],
          "registries": [{ "id": "plant", "devices": [\(devices.joined(separator: ", "))] }] }
        """.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    deinit {
        process?.stop()
        mosquitto.stop()
        simulator.stop()
    }

    /// Starts `modbridge run` and waits until it logged `gateway_started` (bounded: 10 s).
    func startGateway() throws {
        starts += 1
        process = try ChildProcess(ModbridgeProcess.executable, ["run", "--config", configFile], standardErrorFile: logPath)
        for _ in 0..<1000 where !log.contains("gateway_started") && process?.isRunning == true { usleep(10_000) }
        #expect(log.contains("gateway_started"), "the gateway did not start: \(log)")
    }

    /// Stops the gateway cleanly (SIGTERM); its exit status.
    @discardableResult
    func stopGateway() -> Int32? {
        defer { process = nil }
        return process.map { ChildProcess.exitCode($0.stop()) ?? -1 }
    }

    /// Sends `signal` to the gateway (SIGHUP: reload).
    func signal(_ signal: Int32) {
        if let process { Glibc.kill(process.pid, signal) }
    }

    /// `kill -9`: nothing is flushed or closed.
    func killGateway() {
        process?.kill()
        _ = process?.waitForExit()
        process = nil
    }

    /// The current run's log.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Log lines of `event` in the current run.
    func logLines(_ event: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { $0.contains(" " + event + " ") || $0.contains("event=" + event) || $0.contains(event) }
    }

    func controller(_ unit: UInt8) throws -> SimulatedController {
        try #require(simulator.controller(unit: unit))
    }

    /// Sets the counter register of both units.
    func setCounter(_ value: UInt16) {
        Self.setCounter(value, on: simulator)
    }

    static func setCounter(_ value: UInt16, on simulator: ModbusSimulator) {
        for unit: UInt8 in [1, 2] { simulator.controller(unit: unit)?.setRegisters(.holdingRegisters, address: 10, [value]) }
    }

    /// The consumer (a cloud application) on Mosquitto's plain listener, subscribed to `filters`.
    func consumer(_ filters: [String], id: String = "consumer", cleanSession: Bool = true) async throws -> (MQTTClient, Inbox) {
        let client = try await mosquitto.connectConsumer(clientIdentifier: id, cleanSession: cleanSession)
        let inbox = Inbox(client)
        _ = try await client.subscribe(filters.map { Subscription(filter: $0, qos: .atLeastOnce) })
        return (client, inbox)
    }

    /// A local consumer on the gateway's embedded broker (mode both).
    func localConsumer(_ filters: [String], id: String = "local") async throws -> (MQTTClient, Inbox) {
        let client = try await connect(localPort, id)
        let inbox = Inbox(client)
        _ = try await client.subscribe(filters.map { Subscription(filter: $0, qos: .atLeastOnce) })
        return (client, inbox)
    }
}
