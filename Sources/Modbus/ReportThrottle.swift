/// Bounds a repeated log event: the first at once, then at most one per `interval`, each with
/// the number of occurrences since the last report. The bus server's refusals and a line's stray
/// bytes use it.
struct ReportThrottle {
    private var unreported = 0
    private var lastReport: ContinuousClock.Instant?
    private let interval: Duration

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// Counts `count` occurrences (one event, or the bytes of one); the count to report now, or
    /// nil if it waits for a later report.
    mutating func report(_ count: Int = 1, now: ContinuousClock.Instant) -> Int? {
        unreported += count
        if let lastReport, now < lastReport.advanced(by: interval) { return nil }
        defer {
            unreported = 0
            lastReport = now
        }
        return unreported
    }
}
