/// A set of sequence numbers kept as sorted, disjoint, non-adjacent closed ranges: acknowledgements
/// come mostly in order, so a whole segment's usually stay one or a few ranges.
struct SequenceRanges: Equatable {
    private(set) var ranges: [ClosedRange<UInt64>] = []
    /// How many sequences the set holds.
    private(set) var count = 0

    var isEmpty: Bool { ranges.isEmpty }

    /// Whether `sequence` is in the set.
    func contains(_ sequence: UInt64) -> Bool {
        let index = firstIndex(endingAtOrAfter: sequence)
        return index < ranges.count && ranges[index].lowerBound <= sequence
    }

    /// Adds `range`; returns how many of its sequences were not in the set yet.
    @discardableResult
    mutating func insert(_ range: ClosedRange<UInt64>) -> Int {
        // The first range that overlaps or touches `range` (its upper bound + 1 reaches the new lower bound).
        let start = range.lowerBound == 0 ? 0 : firstIndex(endingAtOrAfter: range.lowerBound - 1)
        var merged = range
        var overlap = 0
        var end = start
        while end < ranges.count, ranges[end].lowerBound == 0 || ranges[end].lowerBound - 1 <= range.upperBound {
            let existing = ranges[end]
            let low = max(existing.lowerBound, range.lowerBound)
            let high = min(existing.upperBound, range.upperBound)
            if low <= high { overlap += Int(high - low) + 1 }
            merged = min(merged.lowerBound, existing.lowerBound)...max(merged.upperBound, existing.upperBound)
            end += 1
        }
        ranges.replaceSubrange(start..<end, with: CollectionOfOne(merged))
        let added = Int(range.upperBound - range.lowerBound) + 1 - overlap
        count += added
        return added
    }

    /// Adds every range of `other`.
    mutating func formUnion(_ other: SequenceRanges) {
        for range in other.ranges { insert(range) }
    }

    /// The lowest sequence in `range` that is not in the set, nil if all of them are.
    func firstMissing(in range: ClosedRange<UInt64>) -> UInt64? {
        var candidate = range.lowerBound
        var index = firstIndex(endingAtOrAfter: candidate)
        while index < ranges.count, ranges[index].lowerBound <= candidate {
            guard ranges[index].upperBound < range.upperBound else { return nil }
            candidate = ranges[index].upperBound + 1
            index += 1
        }
        return candidate
    }

    /// How many sequences of `range` the set holds.
    func count(in range: ClosedRange<UInt64>) -> Int {
        var total = 0
        var index = firstIndex(endingAtOrAfter: range.lowerBound)
        while index < ranges.count, ranges[index].lowerBound <= range.upperBound {
            let low = max(ranges[index].lowerBound, range.lowerBound)
            let high = min(ranges[index].upperBound, range.upperBound)
            total += Int(high - low) + 1
            index += 1
        }
        return total
    }

    mutating func removeAll() {
        ranges.removeAll()
        count = 0
    }

    /// The index of the first range whose upper bound is at least `sequence` (binary search).
    private func firstIndex(endingAtOrAfter sequence: UInt64) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < sequence { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
