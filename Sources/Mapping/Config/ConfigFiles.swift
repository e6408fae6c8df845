import Glibc
import POSIX

/// Reading the config's files with the C library alone: the binary carries no Foundation
/// (FoundationEssentials and what it pulls in are ~5 MB of a static binary that goes onto small
/// boxes). Errors are the system's reasons, as a user reads them.
enum ConfigFiles {
    /// Every byte of the file at `path`, or why it cannot be read: "no such file", else the
    /// system's words for the error.
    static func read(_ path: String) -> Result<[UInt8], ReadFailure> {
        do {
            return .success(try readWholeFile(path))
        } catch {
            return .failure(ReadFailure(reason: error.rawValue == ENOENT ? "no such file" : error.message))
        }
    }

    struct ReadFailure: Error {
        let reason: String
    }

    /// What is at `path`: nil if nothing (or it cannot be looked at), else whether it is a folder.
    static func isFolder(_ path: String) -> Bool? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The names in a folder (not "." and ".."); empty if it cannot be read.
    static func names(in folder: String) -> [String] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `path` made absolute (against the working folder) with "." and ".." taken out, so that
    /// two spellings of one file compare equal.
    static func standardized(_ path: String) -> String {
        var absolute = path
        if !path.hasPrefix("/"), let buffer = getcwd(nil, 0) {
            absolute = String(cString: buffer) + "/" + path
            free(buffer)
        }
        var parts: [Substring] = []
        for part in absolute.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}
