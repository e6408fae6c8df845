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
        do {
            return try readWholeFile(path, limit: largestFile)
        } catch where error.rawValue == EFBIG {
            throw .invalidPEM(source: path, what: "certificate or key", detail: "the file is larger than \(largestFile) bytes")
        } catch {
            throw .fileUnreadable(path: path, error)
        }
    }
}
