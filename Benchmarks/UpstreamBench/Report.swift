import BenchSupport
import TestSupport

/// The BENCHMARKS.md section.
func report(_ options: Options, drains: [Peer: [DrainFigures]], steady: SteadyFigures?, total: String) -> String {
    let modbridge = drains[.modbridge] ?? [], bridge = drains[.bridge] ?? []
    let ratesM = modbridge.map(\.rate), ratesB = bridge.map(\.rate)
    let secondsM = modbridge.map(\.seconds), secondsB = bridge.map(\.seconds)
    let rateRatio = median(ratesB) > 0 ? median(ratesM) / median(ratesB) : 0
    let lives = modbridge.compactMap(\.liveMilliseconds)
    let bridgeLives = bridge.compactMap(\.liveMilliseconds)
    let perRun = zip(modbridge, bridge).enumerated().map { index, pair in
        "run \(index + 1): \(formatted(pair.0.seconds, decimals: 2)) s / \(formatted(pair.1.seconds, decimals: 2)) s"
    }.joined(separator: "; ")
    func cell(_ value: Double, _ decimals: Int) -> String { formatted(value, decimals: decimals) }

    var text = """
    ## Upstream: store-and-forward drain vs a Mosquitto bridge; 100 per-device connections

    Command: `make bench` (this part alone: `make bench-upstream`, which runs
    `modbridge-upstream-bench --modbridge .build/release/modbridge --write BENCHMARKS.md`; \(total) s).
    Measured \(utcDay()) on \(machineDescription()); Mosquitto \(mosquittoVersion()).

    **Drain of a \(options.messages)-message backlog.** The upstream broker U is a Mosquitto on 127.0.0.1
    (`allow_anonymous false` with a password file, `persistence false`, `max_queued_messages 1000000`,
    `set_tcp_nodelay true`, otherwise defaults), started fresh for each run. A subscriber (a plain
    MQTT client in the bench, its own thread) subscribes to `plant/#` at QoS 0 before either peer
    may connect, counts every message by the number it carries (all \(options.messages) must arrive,
    distinct) and notes the time of the first and the last. The messages are events documents of
    \(BenchMessages.payload(0, wallMilliseconds: 1_733_500_000_000).count) B on `plant/dev-1/events` … `plant/dev-\(options.devices)/events`, QoS 1, one connection per peer.
    - **modbridge**: the bench program (release build) runs `UpstreamOutbox` over a `MessageQueue` in a
      temporary folder on an `UpstreamLoop`, as `modbridge run` does for each connection (the outbox
      path directly, not a bus: `run` cannot be stopped at an exact count). The messages are posted
      while the link's broker is down, so each is written to the queue on disk; then U starts and the
      link is added (`replayRate` 0 = no cap, `maximumInFlight` 64, the default).
    - **Mosquitto bridge**: a local Mosquitto L with `connection` to U, `topic plant/# out 1`,
      `cleansession false`, `max_queued_messages \(2 * options.messages)` (the default, 1000, would drop the
      backlog), `restart_timeout 1` (time before the drain, not measured), `persistence false`, otherwise
      defaults (in-flight window 20, `max_inflight_messages`). The backlog is published into L at QoS 1
      (every PUBACK awaited) while U is down; U then starts refusing the bridge's login until the
      subscriber is in, and is told to accept it (password added, SIGHUP).

    \(options.runs) runs of each, alternating (the first peer swaps each run); medians, spread = (max − min) / median.

    | measurement | modbridge | Mosquitto bridge | modbridge / bridge | target met | spread modbridge; bridge |
    |---|---|---|---|---|---|
    | drain first → last message (s) | \(cell(median(secondsM), 3)) | \(cell(median(secondsB), 3)) | \(cell(median(secondsB) > 0 ? median(secondsM) / median(secondsB) : 0, 2)) (time) | — | \(spread(secondsM)); \(spread(secondsB)) |
    | drain rate (msg/s) | \(cell(median(ratesM), 0)) | \(cell(median(ratesB), 0)) | \(cell(rateRatio, 2)) | \(rateRatio >= 1 ? "yes" : "**no**") | \(spread(ratesM)); \(spread(ratesB)) |
    | messages received / distinct, all runs | \(modbridge.map(\.received).reduce(0, +)) / \(modbridge.map(\.distinct).reduce(0, +)) | \(bridge.map(\.received).reduce(0, +)) / \(bridge.map(\.distinct).reduce(0, +)) | — | — | — |
    | CPU during the drain, % of one core: U | \(cell(median(modbridge.map(\.upstreamCPUPercent)), 0)) | \(cell(median(bridge.map(\.upstreamCPUPercent)), 0)) | — | — | — |
    | CPU during the drain, % of one core: the peer (modbridge's `mqtt-upstream` thread; Mosquitto L) | \(cell(median(modbridge.map(\.peerCPUPercent)), 0)) | \(cell(median(bridge.map(\.peerCPUPercent)), 0)) | \(cell(median(bridge.map(\.peerCPUPercent)) > 0 ? median(modbridge.map(\.peerCPUPercent)) / median(bridge.map(\.peerCPUPercent)) : 0, 2)) | — | — |
    | TCP segments sent on the machine during the drain, per message (all loopback connections) | \(cell(median(modbridge.map(\.segmentsPerMessage)), 2)) | \(cell(median(bridge.map(\.segmentsPerMessage)), 2)) | \(cell(median(bridge.map(\.segmentsPerMessage)) > 0 ? median(modbridge.map(\.segmentsPerMessage)) / median(bridge.map(\.segmentsPerMessage)) : 0, 2)) | — | — |
    | making the backlog (s): posted and on disk; published into L | \(cell(median(modbridge.map(\.fillSeconds)), 2)) | \(cell(median(bridge.map(\.fillSeconds)), 2)) | — | — | — |

    Each run, modbridge / bridge drain time: \(perRun).

    **Live value with a full backlog** (modbridge): at the link's CONNACK (in `linkUp`, before the
    first pull) one more message is posted, as a bus would post a fresh reading; its time from the
    CONNACK to the subscriber: median \(cell(median(lives), 1)) ms, max \(cell(lives.max() ?? 0, 1)) ms over
    \(lives.count) runs, with \(modbridge.map { String($0.backlogBeforeLive) }.joined(separator: ", ")) backlog messages ahead of it;
    target: within one poll interval (1 s): **\((lives.max() ?? .infinity) <= 1000 ? "yes" : "no")**. From the CONNACK to the
    backlog's last message: \(modbridge.compactMap(\.connackToLastSeconds).map { formatted($0, decimals: 2) }.joined(separator: ", ")) s.
    For comparison, the bridge: a message published into L when the first backlog message reached
    the subscriber arrived after \(bridge.map { formatted($0.liveMilliseconds ?? 0, decimals: 1) }.joined(separator: ", ")) ms, behind
    \(bridge.map { String($0.backlogBeforeLive) }.joined(separator: ", ")) backlog messages (Mosquitto has no live-first; a new
    message that finds a free slot in the bridge's in-flight window goes out at once, ahead of the
    queue, otherwise behind it: chance decides).
    """
    if let steady {
        text += """


        **Steady state, \(options.steadyDevices) devices on per-device connections**: `modbridge run` (release) in mode
        `upstream`, `connection: "per-device"` (each device logs in as itself, anonymous U with `sys_interval 1`),
        \(options.steadyDevices) simulated controllers on \(options.buses) simulator buses (115200 baud, \(options.steadyDevices / max(1, options.buses)) units each),
        a profile of the simulator's 9 points in 3 requests, polled every \(options.interval), every point published at
        every read (one events document per device and cycle). Measured over \(formatted(steady.seconds, decimals: 0)) s once every
        device's link logged `upstream_connected` and 2 s more; CPU = utime + stime of the modbridge
        process from /proc/PID/stat over the window, % of one core.

        | messages/s at the subscriber | gateway CPU % of one core | RSS MiB (peak) | threads | connections: `upstream_connected` links; Mosquitto `$SYS/broker/clients/connected` | U's CPU % | gateway warnings/errors | clean stop |
        |---|---|---|---|---|---|---|---|
        | \(formatted(steady.messagesPerSecond, decimals: 0)) | \(formatted(steady.cpuPercent)) | \(formatted(Double(steady.residentKiB) / 1024)) (\(formatted(Double(steady.peakKiB) / 1024))) | \(steady.threads) | \(steady.upstreamConnectedLogs); \(steady.connectedClients) (the subscriber included) | \(formatted(steady.upstreamCPUPercent)) | \(steady.problems.count) | \(steady.stoppedCleanly ? "yes" : "**no**") |
        """
    }
    return text
}

/// "2.0.11", from `mosquitto -h`.
func mosquittoVersion() -> String {
    guard let process = try? ChildProcess(mosquittoExecutable, ["-h"]), let line = process.readLine(timeout: .seconds(10)) else { return "unknown" }
    _ = process.waitForExit(timeout: .seconds(10))
    return line.split(separator: " ").last.map(String.init) ?? line
}
