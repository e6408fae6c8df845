import Broker

/// The rules of one logged-in device or registry (IOT-CORE.md, "Topics and who may use them"
/// and "Aliases and `$me`"), compiled at login: its families, its `$me` names, its registry's
/// aliases and its rate bucket.
final class EntityRules: SessionPolicy {
    let entityID: String
    private let publishable: FamilyTable
    private let readable: FamilyTable
    private let meNamings: [Naming]
    private let scope: RegistryScope
    private let bucket: TokenBucket?

    init(_ entity: Entity, bucket: TokenBucket?) {
        entityID = entity.id
        publishable = .publishable(by: entity)
        readable = .readable(by: entity)
        scope = entity.scope
        self.bucket = bucket
        switch entity.kind {
        case .device:
            meNamings = [Naming(presented: "$me/device/", canonical: "$devices/\(entity.id)/"),
                         Naming(presented: "$me/monitoring/", canonical: "$monitoring/\(entity.id)/"),
                         Naming(presented: "$me/registry/", canonical: "$registries/\(entity.scope.id)/")]
        case .registry:
            meNamings = [Naming(presented: "$me/registry/", canonical: "$registries/\(entity.id)/")]
        }
    }

    func publish(to topic: String) -> PublishDecision {
        guard let canonical = canonical(topic) else {
            return .denied(Refusal(entity: entityID, reason: "\(topic) is neither a $devices/ or $registries/ topic nor an alias"))
        }
        if let reason = publishable.refusal(of: canonical) {
            return .denied(Refusal(entity: entityID, reason: canonical == topic ? "\(reason): \(topic)" : "\(reason): \(topic) (\(canonical))"))
        }
        return .allowed(topic: canonical)
    }

    /// `topic` with a `$me` prefix or an alias of the client's registry resolved.
    private func canonical(_ topic: String) -> String? {
        if topic.utf8.first == UInt8(ascii: "$") {
            guard topic.utf8.starts(with: "$me/".utf8) else { return topic }
            for naming in meNamings {
                if let canonical = naming.canonical(topic) { return canonical }
            }
            return nil
        }
        // Aliases of one registry are prefix-free: at most one prefix of the topic is an alias.
        var index = topic.startIndex
        while let slash = topic[index...].firstIndex(of: "/") {
            let prefix = topic[...slash]
            if let canonical = scope.aliasByPrefix[prefix] { return canonical + topic[topic.index(after: slash)...] }
            index = topic.index(after: slash)
        }
        return nil
    }

    func subscribe(to filter: String) -> [FilterRewrite] {
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = levels.first else { return [] }
        var rewrites: [FilterRewrite] = []
        var found: [String] = []
        func add(_ presentedPrefix: PresentedPrefix?) {
            for filter in found {
                let rewrite = FilterRewrite(filter: filter, presentedPrefix: presentedPrefix)
                if !rewrites.contains(rewrite) { rewrites.append(rewrite) }
            }
            found.removeAll()
        }
        switch first {
        case "$devices", "$registries", "$monitoring":
            readable.narrow(levels, into: &found)
            add(nil)
        case "$me":
            for naming in meNamings {
                guard let canonical = naming.canonicalFilter(levels[...]) else { continue }
                readable.narrow(canonical, into: &found)
                add(naming.presentedPrefix)
            }
        default:
            // Other `$` topics are no one's; a filter that starts with neither `$devices/` nor
            // `$registries/` matches aliases only.
            guard !first.hasPrefix("$") else { return [] }
            for naming in scope.aliases {
                guard let canonical = naming.canonicalFilter(levels[...]) else { continue }
                readable.narrow(canonical, into: &found)
                add(naming.presentedPrefix)
            }
        }
        return rewrites
    }

    func pauseAfterPublish(now: ContinuousClock.Instant) -> Duration {
        bucket?.take(now: now) ?? .zero
    }
}
