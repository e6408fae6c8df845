/// A device's `overrides` merged over its profile's JSON: objects merge key by key, `null`
/// removes a key, `points` and `commands` are keyed by name (a new name adds one), `setup`
/// and `holes` replace their lists. The result is validated as a whole profile afterwards.
enum ProfileOverrides {
    private static let keys = ["description", "verified", "limits", "defaults", "points", "setup", "commands", "holes", "writeOnly", "writeDeadline"]

    /// The merged profile tree; shape problems of `overrides` are reported at `path` in the config.
    static func apply(_ overrides: JSONValue, to profile: JSONValue, path: String, log: ProblemLog) -> JSONValue {
        guard case let .object(changes) = overrides, case var .object(merged) = profile else { return profile }
        for key in changes.keys.sorted() {
            let change = changes[key] ?? .null
            let changePath = ObjectReader.path(path, key)
            guard keys.contains(key) else {
                log.report(changePath, "unknown key; overrides may change \(keys.joined(separator: ", "))")
                continue
            }
            switch key {
            case "points", "commands":
                guard case let .object(byName) = change else {
                    log.mismatch(changePath, found: change, expected: "an object keyed by \(key == "points" ? "point" : "command") name")
                    continue
                }
                merged[key] = mergeNamed(byName, into: merged[key] ?? .array([]), path: changePath, log: log)
            case "setup", "holes":
                merged[key] = change
            default:
                merged[key] = change == .null ? nil : deepMerge(merged[key] ?? .null, change)
            }
        }
        return .object(merged)
    }

    private static func mergeNamed(_ changes: [String: JSONValue], into list: JSONValue, path: String, log: ProblemLog) -> JSONValue {
        guard case var .array(items) = list else { return list }
        for name in changes.keys.sorted() {
            let change = changes[name] ?? .null
            let index = items.firstIndex { item in
                if case let .object(fields) = item, fields["name"] == .string(name) { return true }
                return false
            }
            if change == .null {
                if let index { items.remove(at: index) } else { log.report(ObjectReader.path(path, name), "no such name to remove") }
                continue
            }
            guard case var .object(fields) = change else {
                log.mismatch(ObjectReader.path(path, name), found: change, expected: "an object with the keys to change")
                continue
            }
            if let index {
                items[index] = deepMerge(items[index], change)
            } else {
                fields["name"] = .string(name)
                items.append(.object(fields))
            }
        }
        return .array(items)
    }

    static func deepMerge(_ base: JSONValue, _ change: JSONValue) -> JSONValue {
        guard case var .object(result) = base, case let .object(changes) = change else { return change }
        for (key, value) in changes {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = deepMerge(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }
}
