import Mapping
import Modbus

/// A command (or config) being carried out on the bus thread: its steps (the writes, then the
/// reads of its `readBack` points), the step it is at, and how long it may keep trying. A step
/// that gets no valid answer is tried again at `nextAttempt`; in between the bus serves other
/// devices, and this device's own polls wait (docs/device-data.md).
struct PendingCommand {
    enum Step {
        /// One step of the write plan, with the names of the writes it completes.
        case write(WriteStep, names: [String])
        /// A read of points just written, to say in the ack what the device holds.
        case readBack(PlannedRead)
    }

    let message: CommandMessage
    /// The desired state written again after the device came back (not a new message).
    let reapplied: Bool
    let steps: [Step]
    /// The validated writes, by point name: what a read-back is compared with.
    let writes: [String: RegisterWrite]
    /// The values asked for, by point name, for the ack.
    let values: [String: JSONValue]
    /// No attempt starts after this; the command is then acknowledged as failed.
    let deadline: ContinuousClock.Instant
    let deadlineLength: Duration
    var next = 0
    var nextAttempt: ContinuousClock.Instant
    var ack: CommandAck
    /// Transactions sent, retries included.
    var transactions = 0
    var retries = 0
    /// Read-back values that differ from what was written: "name: wrote A, the device holds B".
    var mismatches: [String] = []

    init(message: CommandMessage, reapplied: Bool, writes: [NamedWrite], readBack: [PlannedRead], deadline: Duration,
         limits: DeviceLimits, now: ContinuousClock.Instant) {
        self.message = message
        self.reapplied = reapplied
        var steps = WritePlan.steps(for: writes, limits: limits).map { Step.write($0.step, names: $0.names) }
        steps += readBack.map(Step.readBack)
        self.steps = steps
        self.writes = Dictionary(writes.map { ($0.name, $0.write) }, uniquingKeysWith: { $1 })
        self.values = Dictionary(message.values.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        self.deadlineLength = deadline
        self.deadline = now + deadline
        self.nextAttempt = now
        self.ack = CommandAck(id: message.id, ok: true, config: message.kind == .config)
    }

    var isConfig: Bool { message.kind == .config }

    /// Whether the registers or bits `response` holds for `point` (read by `read`) are the ones written.
    func holdsWritten(_ point: Point, in response: ModbusResponse, read: PlannedRead) -> Bool {
        guard let write = writes[point.name] else { return true }
        let offset = point.address - read.read.address
        switch (write, response) {
        case let (.registers(_, values), .registers(registers)):
            return offset >= 0 && offset + values.count <= registers.count && Array(registers[offset..<offset + values.count]) == values
        case let (.registerBit(_, bit, value), .registers(registers)):
            return registers.indices.contains(offset) && (registers[offset] >> UInt16(bit) & 1 == 1) == value
        case let (.coil(_, value), .bits(bits)):
            return bits.indices.contains(offset) && bits[offset] == value
        default:
            return false
        }
    }
}
