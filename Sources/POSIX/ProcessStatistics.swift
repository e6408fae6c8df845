import Glibc

/// The process's own figures, as Prometheus's process collectors name them
/// (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …), read from procfs (proc(5)).
/// procfs files are made by the kernel as they are read and wait on no device, so a scrape may
/// read them on the reactor thread: /proc/self/stat, the /proc/self/fd listing and getrlimit.
package struct ProcessStatistics: Sendable, Equatable {
    /// User and system CPU time used so far.
    package var cpuSeconds: Double
    package var residentBytes: Int
    package var virtualBytes: Int
    /// When the process started, in seconds since the Unix epoch.
    package var startTimeSeconds: Double
    package var threads: Int
    /// Open file descriptors; nil if /proc/self/fd cannot be listed.
    package var openDescriptors: Int?
    /// The soft limit on open file descriptors (RLIMIT_NOFILE); nil if unlimited.
    package var maximumDescriptors: Int?

    /// The figures now; nil where /proc is not mounted or says something unexpected.
    package static func current() -> ProcessStatistics? {
        guard let bootTime = bootTimeSeconds,
              let stat = try? readWholeFile("/proc/self/stat", limit: 4096),
              var statistics = parse(stat: String(decoding: stat, as: UTF8.self), bootTime: bootTime,
                                     ticksPerSecond: Int(sysconf(Int32(_SC_CLK_TCK))), pageSize: Int(sysconf(Int32(_SC_PAGESIZE))))
        else { return nil }
        statistics.openDescriptors = openDescriptorCount()
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {
            statistics.maximumDescriptors = Int(clamping: limit.rlim_cur)
        }
        return statistics
    }

    /// The fields of a /proc/PID/stat line (proc(5)): utime (14), stime (15), num_threads (20),
    /// starttime (22, clock ticks after boot), vsize (23, bytes) and rss (24, pages). The command
    /// name (field 2) is in parentheses and may hold spaces and parentheses itself, so the fields
    /// are counted from the last ')'.
    package static func parse(stat: String, bootTime: Double, ticksPerSecond: Int, pageSize: Int) -> ProcessStatistics? {
        guard ticksPerSecond > 0, let close = stat.lastIndex(of: ")") else { return nil }
        // After ')' come the fields from 3 (state) on.
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        func field(_ number: Int) -> Int? { fields.count > number - 3 ? Int(fields[number - 3]) : nil }
        guard let userTicks = field(14), let systemTicks = field(15), let threads = field(20), let startTicks = field(22),
              let virtualBytes = field(23), let residentPages = field(24) else { return nil }
        let ticks = Double(ticksPerSecond)
        return ProcessStatistics(cpuSeconds: Double(userTicks + systemTicks) / ticks, residentBytes: residentPages * pageSize,
                                 virtualBytes: virtualBytes, startTimeSeconds: bootTime + Double(startTicks) / ticks, threads: threads)
    }

    /// The `btime` line of /proc/stat: when the system booted, in seconds since the Unix epoch.
    package static func bootTime(inProcStat text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        }
        return nil
    }

    /// Read once: the boot time does not change, and /proc/stat grows with the number of CPUs.
    private static let bootTimeSeconds: Double? = (try? readWholeFile("/proc/stat", limit: 4 << 20))
        .flatMap { bootTime(inProcStat: String(decoding: $0, as: UTF8.self)) }

    /// The entries of /proc/self/fd, less the one of the directory being listed.
    private static func openDescriptorCount() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let hidden = withUnsafeBytes(of: entry.pointee.d_name) { $0.first == UInt8(ascii: ".") }
            if !hidden { count += 1 }
        }
        return max(0, count - 1)
    }
}

