/// Addresses of one table that a device does not implement (it answers exception 02 for any
/// request touching them): a profile's `holes`. The planner never merges a read across one.
package struct AddressHole: Sendable, Equatable {
    package var table: PointTable
    /// The first and last address of the hole, both included.
    package var addresses: ClosedRange<Int>
    package var description: String

    package init(table: PointTable, addresses: ClosedRange<Int>, description: String = "") {
        self.table = table
        self.addresses = addresses
        self.description = description
    }

    /// Whether any of `range` (in the same table) falls in the hole.
    package func overlaps(_ range: Range<Int>) -> Bool {
        !range.isEmpty && range.lowerBound <= addresses.upperBound && range.upperBound > addresses.lowerBound
    }
}
