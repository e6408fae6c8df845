import Glibc
import POSIX
import Testing

@Suite struct MemoryAdviceTests {
    /// Mappings as /proc/PID/smaps lists them (proc(5)), fields trimmed to the ones read and a few others.
    static let sample = """
        55f723a40000-55f724472000 r-xp 00000000 fe:00 16245115                   /usr/bin/modbridge
        Size:              10440 kB
        Rss:                7432 kB
        Anonymous:             0 kB
        55f724473000-55f7244b3000 r--p 00a32000 fe:00 16245115                   /usr/bin/modbridge
        Rss:                 256 kB
        Anonymous:           256 kB
        55f7244b3000-55f7245fa000 rw-p 00a72000 fe:00 16245115                   /usr/bin/modbridge
        Rss:                 636 kB
        Anonymous:           600 kB
        55f7245fa000-55f724649000 rw-p 00000000 00:00 0                          [heap]
        Rss:                 168 kB
        Anonymous:           168 kB
        7f82eb000000-7f82eb0c5000 r--p 00000000 fe:00 333177                     /usr/lib/x86_64-linux-gnu/libcrypto.so.3
        Rss:                 788 kB
        Anonymous:             0 kB
        7f82eb100000-7f82eb101000 r--s 00000000 00:1a 4242                       /dev/shm/shared segment
        Rss:                   4 kB
        Anonymous:             0 kB
        7f82e4000000-7f82e4058000 rw-p 00000000 00:00 0 
        Rss:                 352 kB
        Anonymous:           352 kB
        7ffd43719000-7ffd4371b000 r-xp 00000000 00:00 0                          [vdso]
        Rss:                   8 kB
        Anonymous:             0 kB
        """

    @Test func parsesEachMappingWithItsResidentAndAnonymousSizes() {
        let mappings = MemoryAdvice.mappings(inSmaps: Self.sample)
        #expect(mappings.count == 8)
        let code = mappings[0]
        #expect(code.start == 0x55f7_23a4_0000 && code.end == 0x55f7_2447_2000 && code.permissions == "r-xp")
        #expect(code.inode == 16_245_115 && code.path == "/usr/bin/modbridge" && code.residentKiB == 7432 && code.anonymousKiB == 0)
        #expect(mappings[1].anonymousKiB == 256 && mappings[2].permissions == "rw-p")
        #expect(mappings[3].path == "[heap]" && mappings[3].inode == 0)
        #expect(mappings[5].path == "/dev/shm/shared segment")
        #expect(mappings[6].path == "" && mappings[6].residentKiB == 352)
    }

    @Test func picksOnlyPrivateReadOnlyFileMappingsWithoutCopiedPages() {
        let picked = MemoryAdvice.mappings(inSmaps: Self.sample).filter(\.holdsOnlyCleanFilePages)
        // The binary's code and libcrypto's read-only data; not RELRO (relocated, so anonymous
        // pages), not .data, the heap, a shared mapping, an anonymous range or the vDSO.
        #expect(picked.map(\.start) == [0x55f7_23a4_0000, 0x7f82_eb00_0000])
    }

    @Test func releasingThisProcessesPagesKeepsItRunning() throws {
        let release = try MemoryAdvice.releaseStartupPages()
        #expect(release.mappings > 0)
        // Code, read-only data and the libraries' relocated tables still work: these calls go
        // through the pages just dropped, faulted back from the page cache.
        #expect(String(12_345, radix: 16) == "3039")
        #expect(String(cString: strerror(ENOENT)) == "No such file or directory")
        let again = try MemoryAdvice.releaseStartupPages()
        #expect(again.mappings > 0)
    }
}
