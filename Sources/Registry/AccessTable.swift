/// The canonical topic subtrees ("families") an entity may publish to or read, from the
/// contract's table: each family is `<top>/<id>/<leaf>` and everything below it. Compiled once per
/// login from the registry's shared device list, so a PUBLISH costs a few set lookups.
struct FamilyTable: Sendable {
    /// The families under one top level (`$devices`, `$registries`, `$monitoring`): every id in
    /// `ids` with every leaf in `leaves`.
    struct Group: Sendable {
        let top: String
        /// Sorted (expansion order is stable).
        let ids: [String]
        let idSet: Set<Substring>
        let leaves: [String]
    }

    let groups: [Group]

    /// Subtopics below a family root, at most this many characters (IOT-CORE.md).
    static let maximumSubtopicLength = 1024

    /// Why `topic` (canonical) is outside every family, or nil if it is inside one.
    func refusal(of topic: String) -> String? {
        let utf8 = topic.utf8
        guard let first = utf8.firstIndex(of: UInt8(ascii: "/")),
              let second = utf8[utf8.index(after: first)...].firstIndex(of: UInt8(ascii: "/")) else {
            return "not its topic"
        }
        let third = utf8[utf8.index(after: second)...].firstIndex(of: UInt8(ascii: "/"))
        let top = topic[..<first]
        let id = topic[topic.index(after: first)..<second]
        let leaf = topic[topic.index(after: second)..<(third ?? topic.endIndex)]
        guard groups.contains(where: { $0.top == top && $0.leaves.contains(where: { $0 == leaf }) && $0.idSet.contains(id) }) else {
            return "not its topic"
        }
        if let third {
            let subtopic = topic[topic.index(after: third)...]
            if subtopic.utf8.count > Self.maximumSubtopicLength && subtopic.count > Self.maximumSubtopicLength {
                return "subtopic longer than \(Self.maximumSubtopicLength) characters"
            }
        }
        return nil
    }

    /// Canonical filters for the part of `filter` (canonical levels, the top one literal) that
    /// lies inside the families: a wildcard in the id or leaf level becomes one filter per
    /// family it reaches; `<top>/+` reaches nothing (topics have at least three levels).
    func narrow(_ filter: [Substring], into found: inout [String]) {
        guard filter.count >= 2 else { return }
        for group in groups where group.top == filter[0] {
            let idLevel = filter[1]
            let ids: [String]
            if idLevel == "#" || idLevel == "+" {
                ids = group.ids
            } else {
                ids = group.idSet.contains(idLevel) ? [String(idLevel)] : []
            }
            for id in ids {
                if idLevel == "#" {
                    for leaf in group.leaves { found.append("\(group.top)/\(id)/\(leaf)/#") }
                    continue
                }
                guard filter.count >= 3 else { continue }
                let leafLevel = filter[2]
                for leaf in group.leaves where leafLevel == "#" || leafLevel == "+" || leafLevel == leaf {
                    var narrowed = "\(group.top)/\(id)/\(leaf)"
                    if leafLevel == "#" {
                        narrowed += "/#"
                    } else if filter.count > 3 {
                        narrowed += "/" + filter[3...].joined(separator: "/")
                    }
                    found.append(narrowed)
                }
            }
        }
    }
}

extension FamilyTable {
    private static let sending = ["events", "state"]
    private static let receiving = ["commands", "config"]

    /// What `entity` may publish: a device its own and its registry's events and state; a
    /// registry its devices' and its own commands and config.
    static func publishable(by entity: Entity) -> FamilyTable {
        let scope = entity.scope
        switch entity.kind {
        case .device:
            return FamilyTable(groups: [group("$devices", [entity.id], sending), group("$registries", [scope.id], sending)])
        case .registry:
            return FamilyTable(groups: [Group(top: "$devices", ids: scope.deviceIDs, idSet: scope.deviceIDSet, leaves: receiving),
                                        group("$registries", [scope.id], receiving)])
        }
    }

    /// What `entity` may read: a device its own and its registry's commands and config and the
    /// monitoring of its registry's devices; a registry its devices' and its own events and state
    /// and its devices' monitoring.
    static func readable(by entity: Entity) -> FamilyTable {
        let scope = entity.scope
        let monitoring = Group(top: "$monitoring", ids: scope.deviceIDs, idSet: scope.deviceIDSet, leaves: ["json"])
        switch entity.kind {
        case .device:
            return FamilyTable(groups: [group("$devices", [entity.id], receiving), group("$registries", [scope.id], receiving), monitoring])
        case .registry:
            return FamilyTable(groups: [Group(top: "$devices", ids: scope.deviceIDs, idSet: scope.deviceIDSet, leaves: sending),
                                        group("$registries", [scope.id], sending), monitoring])
        }
    }

    private static func group(_ top: String, _ ids: [String], _ leaves: [String]) -> Group {
        Group(top: top, ids: ids, idSet: Set(ids.map { Substring($0) }), leaves: leaves)
    }
}
