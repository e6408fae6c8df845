import Broker

/// One name under which a client may write canonical topics: an alias (`plant/oven1/` for
/// `$devices/oven-1/`) or a `$me` prefix (`$me/device/` for `$devices/<own id>/`).
struct Naming: Sendable {
    /// The presented prefix's levels (`["plant", "oven1"]`).
    let presentedLevels: [Substring]
    /// The canonical prefix's levels (`["$devices", "oven-1"]`).
    let canonicalLevels: [Substring]
    /// Both prefixes, each ending in "/", as the broker renames deliveries with them.
    let presentedPrefix: PresentedPrefix

    init(presented: String, canonical: String) {
        presentedPrefix = PresentedPrefix(canonical: canonical, presented: presented)
        presentedLevels = Array(presented.split(separator: "/", omittingEmptySubsequences: false).dropLast())
        canonicalLevels = Array(canonical.split(separator: "/", omittingEmptySubsequences: false).dropLast())
    }

    /// `topic` (a topic name) under its canonical name, if it is written under this one.
    func canonical(_ topic: String) -> String? {
        guard topic.hasPrefix(presentedPrefix.presented) else { return nil }
        return presentedPrefix.canonical + topic.dropFirst(presentedPrefix.presented.count)
    }

    /// The canonical filter levels `filter` stands for under this name: the canonical prefix
    /// followed by what the filter has below the presented prefix; nil if no topic under the
    /// presented prefix matches the filter.
    func canonicalFilter(_ filter: ArraySlice<Substring>) -> [Substring]? {
        var index = filter.startIndex
        for level in presentedLevels {
            guard index < filter.endIndex else { return nil }
            let requested = filter[index]
            if requested == "#" { return canonicalLevels + ["#"] }
            guard requested == "+" || requested == level else { return nil }
            index += 1
        }
        // A filter that ends with the prefix names the prefix itself ("plant/oven1"), no topic below.
        guard index < filter.endIndex else { return nil }
        return canonicalLevels + filter[index...]
    }
}
