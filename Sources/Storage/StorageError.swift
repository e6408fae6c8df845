import POSIX

/// What went wrong with a storage file, and where: the path, and the operation or the byte offset.
package enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file or folder could not be opened, locked, read, written, synced or renamed.
    case failed(path: String, operation: String, Errno)
    /// The file is not a log of the expected format (offset of the bad bytes, what was wrong).
    case corrupt(path: String, offset: Int, reason: String)

    package var description: String {
        switch self {
        case let .failed(path, operation, error): "storage \(path): \(operation): \(error)"
        case let .corrupt(path, offset, reason): "storage \(path) at byte \(offset): \(reason)"
        }
    }
}
