import Glibc
import POSIX
import Testing

/// The process figures of `/metrics` (process_cpu_seconds_total and the rest), from proc(5)'s formats.
struct ProcessStatisticsTests {
    /// A /proc/PID/stat line whose command name holds spaces and parentheses, as a thread renamed
    /// by a user could: fields 14, 15 (utime, stime: 250 + 50 ticks), 20 (7 threads), 22 (starttime:
    /// 12345 ticks after boot), 23 (vsize) and 24 (rss: 1000 pages).
    static let stat = "4242 (mod (bridge) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 7 0 12345 "
        + "212992000 1000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"

    @Test func aStatLineGivesCPUTimeMemoryThreadsAndTheStartTime() throws {
        let figures = try #require(ProcessStatistics.parse(stat: Self.stat, bootTime: 1_700_000_000, ticksPerSecond: 100, pageSize: 4096))
        #expect(figures.cpuSeconds == 3.0)
        #expect(figures.threads == 7)
        #expect(figures.startTimeSeconds == 1_700_000_123.45)
        #expect(figures.virtualBytes == 212_992_000)
        #expect(figures.residentBytes == 4_096_000)
        // Cut short, or no command name at all: nothing rather than wrong numbers.
        #expect(ProcessStatistics.parse(stat: String(Self.stat.prefix(60)), bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessStatistics.parse(stat: "4242 S 1", bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test func theBootTimeIsTheBtimeLineOfProcStat() {
        let text = "cpu  10 0 20 3000 0 0 0 0 0 0\ncpu0 10 0 20 3000 0 0 0 0 0 0\nintr 1 2 3\nctxt 99\nbtime 1765000000\nprocesses 321\n"
        #expect(ProcessStatistics.bootTime(inProcStat: text) == 1_765_000_000)
        #expect(ProcessStatistics.bootTime(inProcStat: "cpu 1 2 3\n") == nil)
    }

    @Test func thisProcessFiguresAgreeWithWhatTheKernelSaysElsewhere() throws {
        let figures = try #require(ProcessStatistics.current())
        #expect(figures.threads >= 1 && figures.residentBytes > 0 && figures.virtualBytes >= figures.residentBytes)
        var limit = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(figures.maximumDescriptors == (limit.rlim_cur == rlim_t.max ? nil : Int(limit.rlim_cur)))
        // Standard input, output and error at least; the listing's own descriptor is not counted.
        let open = try #require(figures.openDescriptors)
        #expect(open >= 3 && open <= figures.maximumDescriptors ?? Int.max)
        // Started before now, and not before the system booted.
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        #expect(figures.startTimeSeconds <= Double(now.tv_sec) + 1 && figures.startTimeSeconds > 1_000_000_000)
    }
}
