import Foundation
import Glibc
import Testing
import TestSupport

/// The module graph of docs/architecture.md is the rule: every `import` of a project or C module
/// under Sources/ must be one its row allows, every module folder has a row, and each C library
/// is imported from the one place the doc names. The test reads the doc, so changing the graph
/// means changing the doc first.
@Suite("Layout: the code imports as docs/architecture.md says")
struct ModuleGraphTests {
    /// Tests/LayoutTests/<this file> → the repository.
    static let repository: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static func read(_ path: String) -> String {
        String(decoding: readFileBytes(path) ?? [], as: UTF8.self)
    }

    /// The rows of the Markdown table between `<!-- name:start -->` and `<!-- name:end -->`, as cells.
    static func table(_ name: String, in text: String) -> [[String]] {
        guard let start = text.range(of: "<!-- \(name):start -->"), let end = text.range(of: "<!-- \(name):end -->"),
              start.upperBound < end.lowerBound else { return [] }
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").dropFirst(2).map { line in
            line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters() }
        }
    }

    /// Module → the modules it may import, from the doc.
    static func allowedImports() -> [String: Set<String>] {
        var allowed: [String: Set<String>] = [:]
        for row in table("module-graph", in: read(repository + "/docs/architecture.md")) where row.count == 3 {
            let imports = row[2] == "—" ? [] : row[2].split(separator: ",").map { $0.trimmingCharacters() }
            for module in row[0].split(separator: ",").map({ $0.trimmingCharacters() }) {
                allowed[module] = Set(imports)
            }
        }
        return allowed
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Every .swift file below `folder`, relative to the repository.
    static func swiftFiles(in folder: String) -> [String] {
        var files: [String] = []
        for name in directoryEntries(repository + "/" + folder) ?? [] where !name.hasPrefix(".") {
            let path = folder + "/" + name
            if isDirectory(repository + "/" + path) { files += swiftFiles(in: path) } else if name.hasSuffix(".swift") { files.append(path) }
        }
        return files.sorted()
    }

    /// The modules a file imports (`import X`, `public import X`, `@testable import X`…).
    static func imports(of file: String) -> [String] {
        read(repository + "/" + file).split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard let index = words.firstIndex(of: "import"), index < words.count - 1,
                  words[..<index].allSatisfy({ $0.hasPrefix("@") || ["public", "package", "internal"].contains($0) }) else { return nil }
            return String(words[index + 1].split(separator: ".")[0])
        }
    }

    static func moduleFolders() -> [String] {
        (directoryEntries(repository + "/Sources") ?? []).filter { !$0.hasPrefix(".") && isDirectory(repository + "/Sources/" + $0) }.sorted()
    }

    @Test("The doc's graph names every module folder, and nothing more")
    func everyModuleHasARow() {
        let allowed = Self.allowedImports()
        #expect(allowed.count > 10, "no module table found in docs/architecture.md")
        #expect(Set(allowed.keys) == Set(Self.moduleFolders()))
    }

    @Test("Every import of a project or C module is one the doc allows")
    func importsFollowTheGraph() {
        let allowed = Self.allowedImports()
        let projectModules = Set(allowed.keys)
        var violations: [String] = []
        for module in Self.moduleFolders() {
            for file in Self.swiftFiles(in: "Sources/" + module) {
                for imported in Self.imports(of: file) where projectModules.contains(imported) && imported != module {
                    if !(allowed[module] ?? []).contains(imported) { violations.append("\(file) imports \(imported)") }
                }
            }
        }
        #expect(violations.isEmpty, "imports against docs/architecture.md:\n\(violations.joined(separator: "\n"))")
    }

    @Test("Each C library is imported from the one place the doc names")
    func cLibrariesInOnePlace() {
        let places = Dictionary(uniqueKeysWithValues: Self.table("c-files", in: Self.read(Self.repository + "/docs/architecture.md"))
            .filter { $0.count == 2 }.map { ($0[0], $0[1]) })
        #expect(Set(places.keys) == ["CModbus", "COpenSSL", "CSystem"])
        var violations: [String] = []
        for folder in ["Sources", "Tests", "Benchmarks"] {
            for file in Self.swiftFiles(in: folder) {
                for imported in Self.imports(of: file) {
                    guard let place = places[imported] else { continue }
                    let inPlace = place.hasSuffix("/") ? file.hasPrefix(place) : file == place
                    if !inPlace { violations.append("\(file) imports \(imported) (only \(place) may)") }
                }
            }
        }
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var text = self
        while text.first?.isWhitespace == true { text = text.dropFirst() }
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return String(text)
    }
}
