import Glibc

/// Gives back, once start-up is over, the mapped pages of the program's and its libraries' code
/// and read-only data that start-up touched and idle running does not.
///
/// Why this is sound: the ranges chosen are private, non-writable, file-backed mappings with no
/// anonymous (copy-on-write) page in them, so every resident page in them is a clean copy of the
/// file. `madvise(MADV_DONTNEED)` (madvise(2)) only removes them from this process's page tables;
/// they stay in the page cache, and any later access faults the same bytes back from it (from
/// the file if the kernel has reclaimed them meanwhile). A range with anonymous pages is skipped:
/// that is RELRO (the dynamic linker wrote relocations there and then made it read-only) or a
/// range a debugger patched, where dropping the pages would bring back the unrelocated file
/// bytes. Writable and anonymous mappings (heap, stacks, .data, .bss) are never touched. A file
/// replaced while mapped (an upgrade renames the new binary over it: "(deleted)" in smaps) keeps
/// its old inode and pages for as long as it is mapped, so the pages faulted back are the old ones.
package enum MemoryAdvice {
    /// One mapping of /proc/self/smaps, with what decides whether its pages may be dropped.
    package struct Mapping: Equatable, Sendable {
        package let start: UInt
        package let end: UInt
        package let permissions: String
        /// The inode of the backing file; 0 for anonymous memory.
        package let inode: UInt64
        package let path: String
        package var residentKiB = 0
        package var anonymousKiB = 0

        /// Private, not writable, backed by a file, and no page of it copied on write.
        package var holdsOnlyCleanFilePages: Bool {
            let flags = Array(permissions.utf8)
            return flags.count == 4 && flags[1] != UInt8(ascii: "w") && flags[3] == UInt8(ascii: "p")
                && inode != 0 && path.hasPrefix("/") && anonymousKiB == 0
        }
    }

    /// What `releaseStartupPages` gave back.
    package struct Release: Sendable {
        package let mappings: Int
        /// Resident before, per smaps, in the ranges advised.
        package let residentKiB: Int
    }

    /// The mappings listed in `text` (the format of /proc/PID/smaps, proc(5)).
    package static func mappings(inSmaps text: String) -> [Mapping] {
        var result: [Mapping] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.hasSuffix(":") {
                // "Rss:      1234 kB": a field of the mapping above.
                guard !result.isEmpty, fields.count >= 2, let value = Int(fields[1]) else { continue }
                switch first {
                case "Rss:": result[result.count - 1].residentKiB = value
                case "Anonymous:": result[result.count - 1].anonymousKiB = value
                default: break
                }
                continue
            }
            // "start-end perms offset dev inode [path]"
            guard fields.count >= 5 else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                  let inode = UInt64(fields[4]) else { continue }
            let path = fields.count > 5 ? fields[5...].joined(separator: " ") : ""
            result.append(Mapping(start: start, end: end, permissions: String(fields[1]), inode: inode, path: path))
        }
        return result
    }

    /// Drops this process's page-table entries for every mapping that holds only clean file
    /// pages (see the type's comment). Call once, after start-up; idle running faults back
    /// what it uses.
    package static func releaseStartupPages() throws(Errno) -> Release {
        let smaps = try readWholeFile("/proc/self/smaps", limit: 16 << 20)
        var count = 0, resident = 0
        for mapping in mappings(inSmaps: String(decoding: smaps, as: UTF8.self)) where mapping.holdsOnlyCleanFilePages {
            guard mapping.residentKiB > 0, let address = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            do {
                _ = try checkedSyscall { madvise(address, Int(mapping.end - mapping.start), MADV_DONTNEED) }
            } catch where error.rawValue == EINVAL || error.rawValue == ENOMEM {
                // Locked or special (VM_PFNMAP) ranges refuse the advice, and a mapping may have
                // gone since smaps was read: nothing to give back there.
                continue
            }
            count += 1
            resident += mapping.residentKiB
        }
        return Release(mappings: count, residentKiB: resident)
    }
}
