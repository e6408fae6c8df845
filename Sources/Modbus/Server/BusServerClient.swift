import POSIX

/// One client of a bus's Modbus TCP server, on the server's thread: its socket, the frames it
/// sent, and its requests in the order they came, each waiting for its answer. Answers go out in
/// that order, whatever order they are ready in (a refused request is ready at once).
final class BusServerClient {
    /// A request waiting for its answer.
    private struct Slot {
        let sequence: Int
        let transactionID: UInt16
        let unit: UInt8
        var answer: [UInt8]?
    }

    let id: Int
    let socket: Socket
    /// The peer's address, for logs.
    let peer: String
    var framer: MBAPFramer
    private(set) var output = OutputBuffer()
    private var slots: [Slot] = []
    private var nextSequence = 0
    /// When the client last sent bytes or had an answer written.
    var lastActivity: ContinuousClock.Instant

    init(id: Int, socket: Socket, peer: String, now: ContinuousClock.Instant) {
        self.id = id
        self.socket = socket
        self.peer = peer
        framer = MBAPFramer(source: "modbus-tcp client \(peer)")
        lastActivity = now
    }

    /// Requests not answered yet.
    var inFlight: Int { slots.count }

    /// Takes a request in arrival order; the sequence number names its answer.
    func enqueue(_ frame: MBAPFrame) -> Int {
        let sequence = nextSequence
        nextSequence += 1
        slots.append(Slot(sequence: sequence, transactionID: frame.transactionID, unit: frame.unit, answer: nil))
        return sequence
    }

    /// The answer PDU of request `sequence`; what is answered from the front goes to the output.
    func answer(_ sequence: Int, pdu: [UInt8]) {
        guard let index = slots.firstIndex(where: { $0.sequence == sequence }) else { return }
        slots[index].answer = pdu
        while let first = slots.first, let answer = first.answer {
            output.append(contentsOf: MBAPFrame(transactionID: first.transactionID, unit: first.unit, pdu: answer).bytes)
            slots.removeFirst()
        }
    }

    /// Writes what the socket takes now; true when nothing is left to write.
    func flush() throws(Errno) -> Bool {
        try output.write(to: socket)
    }
}
