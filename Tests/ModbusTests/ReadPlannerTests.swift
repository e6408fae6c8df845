import Modbus
import Testing
import TestSupport

@Suite struct ReadPlannerTests {
    /// The fewest reads for `needed`, by trying every way to split the ranges (sorted, joined)
    /// into consecutive groups: a group is one read if it spans at most `count`, its gaps are at
    /// most `gap`, and it crosses no boundary.
    private func bruteForceMinimum(_ needed: [Range<Int>], count: Int, gap: Int, boundaries: Set<Int>) -> Int {
        // Ranges cut at boundaries and at `count`, as a read can never hold more.
        var units: [Range<Int>] = []
        for range in joined(needed) {
            var start = range.lowerBound
            let cuts = boundaries.filter { $0 > range.lowerBound && $0 < range.upperBound }.sorted() + [range.upperBound]
            for cut in cuts {
                while cut - start > count { units.append(start..<start + count); start += count }
                if cut > start { units.append(start..<cut) }
                start = cut
            }
        }
        guard !units.isEmpty else { return 0 }
        var best = Int.max
        for mask in 0..<(1 << (units.count - 1)) {
            // Bit i set: a new read starts at units[i + 1].
            var reads = 1, first = units[0].lowerBound, feasible = true
            for index in 1..<units.count {
                let startsNew = mask & (1 << (index - 1)) != 0
                if startsNew {
                    reads += 1
                    first = units[index].lowerBound
                    continue
                }
                let previous = units[index - 1], current = units[index]
                if current.lowerBound - previous.upperBound > gap || current.upperBound - first > count
                    || boundaries.contains(where: { $0 > first && $0 < current.upperBound }) {
                    feasible = false
                    break
                }
            }
            if feasible { best = min(best, reads) }
        }
        return best
    }

    private func joined(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, range.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    /// Every needed address is read, and no read breaks a rule.
    private func checkCovers(_ reads: [ReadPlanner.Read], _ needed: [Range<Int>], _ planner: ReadPlanner) {
        for range in needed {
            for address in range {
                #expect(reads.contains { $0.addresses.contains(address) }, "address \(address) of \(range) not read by \(reads)")
            }
        }
        for read in reads {
            #expect(read.count >= 1 && read.count <= planner.maximumCount, "\(read) longer than \(planner.maximumCount)")
            #expect(!planner.boundaries.contains { $0 > read.address && $0 < read.addresses.upperBound }, "\(read) crosses a boundary")
        }
    }

    @Test func shapedExamples() {
        // Delta DTB: at most 8 registers per read, gap 8.
        let dtb = ReadPlanner(maximumCount: 8, maximumGap: 8)
        #expect(dtb.plan([4096..<4097, 4097..<4098, 4098..<4099, 4099..<4100, 4114..<4116]) == [.init(address: 4096, count: 4), .init(address: 4114, count: 2)])
        // A gap of exactly maximumGap merges; one more does not.
        let planner = ReadPlanner(maximumCount: 125, maximumGap: 8)
        #expect(planner.plan([0..<1, 9..<10]) == [.init(address: 0, count: 10)])
        #expect(planner.plan([0..<1, 10..<11]) == [.init(address: 0, count: 1), .init(address: 10, count: 1)])
        // Overlapping points (a flags word and a bit of it) are read once.
        #expect(planner.plan([5..<7, 6..<7, 5..<6]) == [.init(address: 5, count: 2)])
        // Never past the read limit: 130 contiguous registers take two reads.
        #expect(planner.plan([0..<100, 100..<130]) == [.init(address: 0, count: 125), .init(address: 125, count: 5)])
        // A learned boundary splits what would merge.
        let learned = ReadPlanner(maximumCount: 125, maximumGap: 8, boundaries: [3])
        #expect(learned.plan([0..<1, 4..<5]) == [.init(address: 0, count: 1), .init(address: 4, count: 1)])
        #expect(learned.plan([0..<6]) == [.init(address: 0, count: 3), .init(address: 3, count: 3)])
        #expect(planner.plan([]) == [])
    }

    @Test func matchesTheBruteForceOptimumOnRandomShapes() {
        var random = SplitMix64(seed: 0x5EED_0004)
        for round in 0..<400 {
            let count = Int.random(in: 1...16, using: &random)
            let gap = Int.random(in: 0...6, using: &random)
            var needed: [Range<Int>] = []
            var address = Int.random(in: 0...5, using: &random)
            for _ in 0..<Int.random(in: 1...10, using: &random) {
                let width = [1, 1, 1, 2, 2, 4].randomElement(using: &random)!
                needed.append(address..<address + width)
                address += width + Int.random(in: -1...9, using: &random)
                address = max(0, address)
            }
            let boundaries: Set<Int> = Bool.random(using: &random) ? [Int.random(in: 1...40, using: &random)] : []
            let planner = ReadPlanner(maximumCount: count, maximumGap: gap, boundaries: boundaries)
            let reads = planner.plan(needed)
            checkCovers(reads, needed, planner)
            let optimum = bruteForceMinimum(needed, count: count, gap: gap, boundaries: boundaries)
            #expect(reads.count == optimum, "round \(round): \(needed) count \(count) gap \(gap) boundaries \(boundaries): planned \(reads), optimum \(optimum)")
        }
    }
}
