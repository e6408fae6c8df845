import Glibc
import POSIX

extension PEMSource {
    /// The bytes: read from the file (whole), or the ones given.
    func bytes() throws(TLSError) -> [UInt8] {
        switch self {
        case let .bytes(bytes, _): return bytes
        case let .file(path): return try Self.readFile(path)
        }
    }

    /// Certificate and key files are small; anything past this is not one.
    private static let largestFile = 1 << 20

    private static func readFile(_ path: String) throws(TLSError) -> [UInt8] {
        let descriptor: Int32
        do {
            descriptor = try checkedSyscall { open(path, O_RDONLY | O_CLOEXEC) }
        } catch {
            throw .fileUnreadable(path: path, error)
        }
        defer { _ = try? checkedSyscall(retryOnInterrupt: false) { close(descriptor) } }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count: Int
            do {
                count = try checkedSyscall { chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) } }
            } catch {
                throw .fileUnreadable(path: path, error)
            }
            if count == 0 { return contents }
            contents += chunk[0..<count]
            if contents.count > largestFile {
                throw .invalidPEM(source: path, what: "certificate or key", detail: "the file is larger than \(largestFile) bytes")
            }
        }
    }
}
