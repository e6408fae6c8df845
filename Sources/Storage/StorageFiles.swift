// The file calls the storage types share: checked syscalls named by path and operation, mkdir -p
// with parent fsyncs, whole-file reads, positioned writes, the folder lock.

import Glibc
import POSIX

enum StorageFiles {
    /// `mkdir -p`, fsyncing the parent of each folder it creates so the new entry survives a power loss.
    static func makeDirectories(_ directory: String) throws(StorageError) {
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + component
            do throws(Errno) {
                _ = try checkedSyscall { mkdir(current, 0o700) }
            } catch {
                // EEXIST, or EROFS/EACCES for a folder that exists: fine if it is a folder.
                var info = stat()
                guard stat(current, &info) == 0 else { throw .failed(path: current, operation: "mkdir", error) }
                if (info.st_mode & S_IFMT) == S_IFDIR { continue }
                throw .failed(path: current, operation: "mkdir", Errno(rawValue: ENOTDIR))
            }
            let folder = try system(parent, "open") { Glibc.open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            defer { closeDescriptor(folder) }
            try system(parent, "fsync") { fsync(folder) }
        }
    }

    /// The whole file (empty if there is none).
    static func readFile(_ path: String) throws(StorageError) -> [UInt8] {
        let file: Int32
        do throws(Errno) {
            file = try checkedSyscall { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        } catch {
            if error.rawValue == ENOENT { return [] }
            throw .failed(path: path, operation: "open", error)
        }
        defer { closeDescriptor(file) }
        var info = stat()
        try system(path, "fstat") { fstat(file, &info) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = try system(path, "read") {
                bytes.withUnsafeMutableBytes { buffer in
                    pread(file, buffer.baseAddress.map { $0 + filled }, buffer.count - filled, off_t(filled))
                }
            }
            if count == 0 { break } // shorter than fstat said
            filled += count
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    static func writeAll(_ bytes: [UInt8], to file: Int32, at offset: Int, path: String) throws(StorageError) {
        var written = 0
        while written < bytes.count {
            let count = try system(path, "write") {
                bytes.withUnsafeBytes { buffer in
                    pwrite(file, buffer.baseAddress.map { $0 + written }, buffer.count - written, off_t(offset + written))
                }
            }
            // A regular file takes at least one byte or fails; 0 would loop for ever.
            guard count > 0 else { throw .failed(path: path, operation: "write", Errno(rawValue: EIO)) }
            written += count
        }
    }

    static func closeDescriptor(_ descriptor: Int32) {
        guard descriptor >= 0 else { return }
        // No retry: Linux releases the descriptor even when close reports EINTR.
        _ = try? checkedSyscall(retryOnInterrupt: false) { Glibc.close(descriptor) }
    }

    /// Takes the folder's lock, waiting up to a second for it: a lock released in that time was
    /// held by something ending (a previous instance exiting, or a copy of the descriptor that a
    /// child process holds between its fork and its exec, when another thread of this process
    /// starts one); one still held after it means another process uses the folder.
    static func lock(_ folder: Int32, directory: String) throws(StorageError) {
        var attempts = 0
        while true {
            do throws(Errno) {
                _ = try checkedSyscall { flock(folder, LOCK_EX | LOCK_NB) }
                return
            } catch {
                attempts += 1
                guard error.rawValue == EWOULDBLOCK, attempts < 100 else { throw .failed(path: directory, operation: "lock", error) }
                usleep(10_000)
            }
        }
    }

    /// A syscall through `checkedSyscall` (EINTR retried), its failure named by path and operation.
    @discardableResult
    static func system<Result: BinaryInteger>(
        _ path: String, _ operation: String, _ call: () -> Result
    ) throws(StorageError) -> Result {
        do throws(Errno) {
            return try checkedSyscall(call)
        } catch {
            throw .failed(path: path, operation: operation, error)
        }
    }
}
