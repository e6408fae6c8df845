/// Work a bus's own thread does between queued jobs: a gateway's polling and commands, say.
/// The bus calls it on its thread only, one call at a time, so a driver can keep its state
/// without locks (what other threads hand it needs its own lock, and `Bus.wakeDriver()`).
package protocol BusDriver: AnyObject, Sendable {
    /// Does what is due by `now`, through `line`, and returns when it wants to run again (nil:
    /// only when woken). Return soon: stop requests and queued jobs wait for it.
    func run(on line: BusLine, now: ContinuousClock.Instant) -> ContinuousClock.Instant?
}

/// The bus's line as its driver sees it during `BusDriver.run`: transactions with the same
/// silence, resynchronisation, status and reopening as queued jobs get.
package struct BusLine {
    let loop: BusLoop

    /// Runs `request` on `unit` now and returns the answer or why there is none.
    package func perform(_ request: ModbusRequest, unit: UInt8) -> Result<ModbusResponse, ModbusError> {
        if let refusal = loop.configuration.refusal(of: request, unit: unit) { return .failure(refusal) }
        return loop.execute(request, unit: unit)
    }
}
