import POSIX

/// Gives back the code and read-only data pages that `modbridge run`'s start-up touched (config
/// parsing, profile loading, OpenSSL and Swift runtime initialisation, device discovery) once it
/// is over, so that what stays resident is what polling and serving use: issue 18's footprint
/// target is measured on a small box, where those pages would otherwise stay mapped for the
/// process's life (with the kernel's fault-around mapping 64 KiB around each touched page).
/// Only clean file pages are dropped, and only from this process's page tables (see
/// `MemoryAdvice`): nothing is lost, a page used again is faulted back from the page cache.
enum StartupPageRelease {
    /// Time after READY before the release: the first polls find the devices (probe requests,
    /// discovery and state documents), code idle running does not use again.
    static let settleTime: Duration = .seconds(5)

    /// Releases once `settleTime` from now and logs what it gave back. Runs on the concurrency
    /// pool: reading /proc/self/smaps and madvise wait on no device or peer (procfs is made in
    /// memory, DONTNEED only edits page tables); a thread of its own would cost memory (its stack,
    /// a malloc arena) for a few milliseconds' work.
    static func schedule(logger: Logger, reason: String) -> Task<Void, Never> {
        Task {
            do { try await Task.sleep(for: settleTime) } catch { return }
            do throws(Errno) {
                let release = try MemoryAdvice.releaseStartupPages()
                logger.log(.info, "startup_pages_released", ["after": reason, "mappings": String(release.mappings),
                                                             "resident_kib": String(release.residentKiB)])
            } catch {
                logger.log(.warning, "startup_pages_not_released", ["error": error.description])
            }
        }
    }
}
