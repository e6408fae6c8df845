import Foundation
import MQTT
import TestSupport

/// The options of the Mosquitto bridge (on the local broker L) beyond Mosquitto's defaults.
func bridgeLines(upstreamPort: UInt16, password: String, queued: Int) -> [String] {
    ["persistence false",
     // Room for the whole backlog in the bridge's session (the default, 1000, would drop the rest).
     "max_queued_messages \(queued)",
     "connection bench-bridge",
     "address 127.0.0.1:\(upstreamPort)",
     "topic plant/# out 1",
     "cleansession false",
     "remote_username bridge",
     "remote_password \(password)",
     // A constant 1 s between attempts (the default backs off from 5 s to 30 s): only the wait
     // before the drain starts, which is not measured.
     "restart_timeout 1"]
}

/// The bridge's side of the drain: a local Mosquitto L bridging `plant/#` out to the upstream U
/// at QoS 1 with a persistent session. The backlog is published into L (QoS 1, every PUBACK
/// awaited) while U is down; then U starts refusing the bridge's login, the subscriber
/// subscribes, and U is told to accept it (a password added, SIGHUP): the bridge's next attempt
/// connects and drains.
func measureBridgeDrain(folder: String, upstream: MosquittoPeer, bridgePassword: String,
                        subscriberLogin: (user: String, password: String), messages: Int, devices: Int) throws -> DrainFigures {
    let local = try MosquittoPeer(name: "bridge-local", folder: folder, port: freePort(),
                                  lines: bridgeLines(upstreamPort: upstream.port, password: bridgePassword, queued: 2 * messages))
    try local.start()
    defer { local.stop() }
    let fillStart = ContinuousClock.now
    let publisher = try BacklogPublisher(port: local.port, clientID: "bench-publisher")
    try publisher.publishBacklog(count: messages, devices: devices)
    let fillSeconds = seconds(fillStart.duration(to: .now))

    try upstream.start()
    let subscriber = try BenchSubscriber(port: upstream.port, clientID: "bench-subscriber", username: subscriberLogin.user,
                                         password: subscriberLogin.password,
                                         filters: [Subscription(filter: "plant/#", qos: .atMostOnce)], expectedBacklog: messages)
    defer { subscriber.stop() }
    try upstream.setPassword(bridgePassword, for: "bridge")
    try upstream.reload()
    // The bridge has no live-first: a message published into L once the drain has begun waits
    // behind what L still holds for the bridge.
    guard let started = subscriber.wait(timeout: .seconds(60), until: { $0.firstBacklog != nil }), started.firstBacklog != nil else {
        throw BenchError("bridge: nothing reached the subscriber within 60 s of the login being allowed; L's log:\n\(local.log)")
    }
    let cpu = DrainCPU(upstream: upstream.pid, peer: local.pid)
    cpu.begin()
    let livePublishedAt = ContinuousClock.now
    try publisher.publish(topic: BenchMessages.liveTopic, payload: BenchMessages.livePayload(wallMilliseconds: 0))
    guard let received = subscriber.wait(timeout: .seconds(180), until: { $0.distinct >= messages && $0.live != nil }) else {
        let seen = subscriber.reception
        throw BenchError("bridge: the subscriber got \(seen.distinct) of \(messages) messages (live: \(seen.live != nil)) \(seen.failure ?? "")")
    }
    var figures = DrainFigures(seconds: seconds(received.firstBacklog!.duration(to: received.lastBacklog!)),
                               distinct: received.distinct, received: received.backlogReceived,
                               liveMilliseconds: received.live.map { milliseconds(livePublishedAt.duration(to: $0)) },
                               backlogBeforeLive: received.backlogBeforeLive, connackToLastSeconds: nil, fillSeconds: fillSeconds)
    (figures.upstreamCPUPercent, figures.peerCPUPercent, figures.segmentsPerMessage) = cpu.end(messages: messages)
    return figures
}
