import Broker
import MQTT
import POSIX
import TestSupport

/// A broker on 127.0.0.1 and a port it picked, stopped by `defer { broker.stop() }`.
func startBroker(_ configure: (inout BrokerConfiguration) -> Void = { _ in },
                 policy: any BrokerPolicy = OpenPolicy(), logger: Logger = .discarding) throws -> Broker {
    var configuration = BrokerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    return try Broker.start(configuration, policy: policy, logger: logger)
}

/// A raw client that has connected (and had its CONNACK checked).
func rawClient(_ broker: Broker, _ id: String, clean: Bool = true, keepAlive: UInt16 = 0, will: Will? = nil,
               username: String? = nil, password: [UInt8]? = nil, sessionPresent: Bool = false) throws -> RawMQTTClient {
    let client = try RawMQTTClient(port: broker.port)
    let answer = try client.connect(Connect(clientIdentifier: id, cleanSession: clean, keepAlive: keepAlive,
                                            will: will, username: username, password: password))
    guard answer == ConnectAcknowledgement(sessionPresent: sessionPresent, returnCode: .accepted) else {
        throw RawClientError.failed("CONNACK \(answer), expected session present \(sessionPresent) and accepted")
    }
    return client
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}
