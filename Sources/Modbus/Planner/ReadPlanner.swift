/// Turns the address ranges one unit needs from one table at one interval into the fewest read
/// requests: ranges closer than `maximumGap` are merged (the gap is read and discarded), never
/// into a request longer than `maximumCount`, and never across a learned `boundary` (an address
/// a merged request must not span, because the device answered such a request with exception 02).
package struct ReadPlanner: Sendable, Equatable {
    /// Registers (or bits) one request may read.
    package var maximumCount: Int
    /// Unneeded addresses a merged request may read between two needed ranges.
    package var maximumGap: Int
    /// Addresses `a` such that no request may read both `a - 1` and `a`.
    package var boundaries: Set<Int>

    package init(maximumCount: Int, maximumGap: Int, boundaries: Set<Int> = []) {
        precondition(maximumCount >= 1 && maximumGap >= 0, "a read holds at least one address")
        self.maximumCount = maximumCount
        self.maximumGap = maximumGap
        self.boundaries = boundaries
    }

    /// One read: `count` addresses from `address`.
    package struct Read: Sendable, Equatable, CustomStringConvertible {
        package var address: Int
        package var count: Int
        package var addresses: Range<Int> { address..<address + count }
        package var description: String { "\(address)+\(count)" }

        package init(address: Int, count: Int) {
            self.address = address
            self.count = count
        }
    }

    /// The reads that cover every range in `needed`, fewest first and in address order.
    ///
    /// Greedy from the lowest address, each read extended over the next range while the gap and
    /// the length allow, is optimal: whichever plan is best, its first read covers a prefix of the
    /// ranges no longer than the greedy one, and the ranges left are a superset of the greedy's.
    /// A range longer than `maximumCount` (which a profile check prevents) is read in pieces.
    package func plan(_ needed: [Range<Int>]) -> [Read] {
        var reads: [Read] = []
        for range in Self.union(needed) {
            for piece in pieces(of: range) {
                if let last = reads.last, canExtend(last, to: piece) {
                    reads[reads.count - 1].count = piece.upperBound - last.address
                } else {
                    reads.append(Read(address: piece.lowerBound, count: piece.count))
                }
            }
        }
        return reads
    }

    private func canExtend(_ read: Read, to range: Range<Int>) -> Bool {
        let gap = range.lowerBound - read.addresses.upperBound
        guard gap <= maximumGap, range.upperBound - read.address <= maximumCount else { return false }
        // Pieces are cut at boundaries, so any boundary past the read's start is one to respect.
        return !boundaries.contains { $0 > read.address && $0 < range.upperBound }
    }

    /// A range cut at the learned boundaries and at `maximumCount`.
    private func pieces(of range: Range<Int>) -> [Range<Int>] {
        var cuts = boundaries.filter { $0 > range.lowerBound && $0 < range.upperBound }.sorted()
        cuts.append(range.upperBound)
        var result: [Range<Int>] = []
        var start = range.lowerBound
        for cut in cuts {
            while cut - start > maximumCount {
                result.append(start..<start + maximumCount)
                start += maximumCount
            }
            if cut > start { result.append(start..<cut) }
            start = cut
        }
        return result
    }

    /// Overlapping and touching ranges joined, in address order.
    package static func union(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        for range in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, range.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }
}
