import POSIX

/// Sends systemd's `WATCHDOG=1` while the gateway is healthy: every half of `WatchdogSec`, but
/// only after `isHealthy` says so (the broker's reactor answered a ping). A reactor that hangs
/// never answers, the pings stop, and systemd restarts the service (`Restart=on-failure`), which
/// is the point of a watchdog; a process that is merely alive is not enough. A bus thread that
/// is stuck (`stalledBuses` describes it, the rule of `/healthz`) withholds the ping too.
enum ServiceWatchdog {
    /// Pings until the task is cancelled. `isHealthy` and `stalledBuses` run on the concurrency
    /// pool and must not block.
    static func start(_ notifier: ServiceNotifier, timeout: Duration, logger: Logger,
                      stalledBuses: @escaping @Sendable () -> String? = { nil },
                      isHealthy: @escaping @Sendable () async -> Bool) -> Task<Void, Never> {
        // sd_watchdog_enabled(3) advises half the timeout, so one late ping is not yet fatal.
        let interval = timeout / 2
        return Task {
            while !Task.isCancelled {
                if let stalls = stalledBuses() {
                    logger.log(.warning, "watchdog_withheld", ["reason": stalls.split(separator: "\n").joined(separator: "; ")])
                } else if await isHealthy() {
                    notifier.watchdog()
                } else if !Task.isCancelled {
                    logger.log(.warning, "watchdog_withheld", ["reason": "the broker's reactor did not answer"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
