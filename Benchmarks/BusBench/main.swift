// `make bench`: µs per transaction through `Bus` over a pty, next to a plain C libmodbus loop on
// the same pty and simulator in the same run. Prints the table and writes it into BENCHMARKS.md.
//
//   modbridge-bench --c-loop PATH [--transactions N] [--write BENCHMARKS.md]
import BenchSupport
import Foundation  // the benchmark is not shipped: Foundation's conveniences are fine here
import Modbus
import Serial
import POSIX

struct Options {
    var cLoop = ""
    var transactions = 2000
    var markdown: String?

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--c-loop": cLoop = iterator.next() ?? ""
            case "--transactions": transactions = Int(iterator.next() ?? "") ?? transactions
            case "--write": markdown = iterator.next()
            default: fail("unknown argument \(argument)")
            }
        }
        if cLoop.isEmpty { fail("--c-loop PATH is required") }
    }
}

struct Figures {
    let median: Double
    let p99: Double

    init(nanoseconds samples: [Int64]) {
        median = Double(percentile(50, of: samples)) / 1000
        p99 = Double(percentile(99, of: samples)) / 1000
    }
}

/// Transactions through the Bus, each awaited before the next, as a poller does.
func measureBus(path: String, registers: Int, transactions: Int, silence: InterFrameSilence) async throws -> Figures {
    let bus = try Bus(BusConfiguration(target: .rtu(path: path, settings: SerialSettings(baudRate: .b115200, rs485: .init(mode: .off))),
                                       responseTimeout: .seconds(1), silence: silence))
    let clock = ContinuousClock()
    var samples: [Int64] = []
    samples.reserveCapacity(transactions)
    for index in 0..<(transactions + 100) {
        let start = clock.now
        _ = try await bus.perform(.readHoldingRegisters(address: 0, count: registers), unit: 1)
        let elapsed = start.duration(to: clock.now)
        if index >= 100 { samples.append(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000) }
    }
    await bus.close()
    return Figures(nanoseconds: samples)
}

/// The same transactions from the C loop, a separate process on the same pty.
func measureC(loop: String, path: String, registers: Int, transactions: Int, silenceMicroseconds: Int64) throws -> Figures {
    var pipeDescriptors: [Int32] = [0, 0]
    guard pipe(&pipeDescriptors) == 0 else { fail("pipe: \(Errno.current)") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, pipeDescriptors[1], STDOUT_FILENO)
    posix_spawn_file_actions_addclose(&actions, pipeDescriptors[0])
    let arguments = [loop, path, "115200", String(registers), String(transactions + 100), String(silenceMicroseconds)]
    var cArguments = arguments.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, loop, &actions, nil, &cArguments, environ)
    cArguments.forEach { free($0) }
    posix_spawn_file_actions_destroy(&actions)
    close(pipeDescriptors[1])
    guard spawned == 0 else { fail("cannot run \(loop): \(Errno(rawValue: spawned))") }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(pipeDescriptors[0], &buffer, buffer.count)
        if count > 0 { output += buffer[0..<count] } else if count == 0 || errno != EINTR { break }
    }
    close(pipeDescriptors[0])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    guard status == 0 else { fail("\(loop) failed (status \(status))") }
    let samples = String(decoding: output, as: UTF8.self).split(separator: "\n").compactMap { Int64($0) }
    guard samples.count == transactions + 100 else { fail("\(loop) printed \(samples.count) samples") }
    return Figures(nanoseconds: Array(samples.dropFirst(100)))
}

func format(_ value: Double) -> String { formatted(value) }

func fail(_ message: String) -> Never { benchFailure(message) }

let options = Options(Array(CommandLine.arguments.dropFirst()))
var folder = Array("/tmp/modbridge-bench-XXXXXX".utf8CString)
guard let made = folder.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { fail("mkdtemp: \(Errno.current)") }
let directory = String(cString: made)
let controller = SimulatedController(unit: 1, temperatureModel: false)
controller.setRegisters(.holdingRegisters, address: 0, (0..<125).map { UInt16($0) })
let simulator = try ModbusSimulator.startRTU(controllers: [controller], linkPath: directory + "/tty")
defer {
    simulator.stop()
    rmdir(directory)
}

let t35 = SerialSettings(baudRate: .b115200).interFrameSilence
var rows: [String] = []
print("transactions per row: \(options.transactions) (after 100 warm-up), pty, 115200 baud, unit 1")
print("registers  silence      Bus median/p99 µs    C median/p99 µs      ratio median/p99")
for (silence, silenceName, silenceMicroseconds) in [(InterFrameSilence.standard, "t3.5 1.75 ms", t35.microseconds), (.fixed(.zero), "none", 0)] {
    for registers in [10, 125] {
        let bus = try await measureBus(path: simulator.address, registers: registers, transactions: options.transactions, silence: silence)
        let c = try measureC(loop: options.cLoop, path: simulator.address, registers: registers,
                             transactions: options.transactions, silenceMicroseconds: silenceMicroseconds)
        let ratioMedian = bus.median / c.median, ratioP99 = bus.p99 / c.p99
        print("\(String(registers).padding(11))\(silenceName.padding(13))\((format(bus.median) + " / " + format(bus.p99)).padding(21))\((format(c.median) + " / " + format(c.p99)).padding(21))\(ratio(ratioMedian)) / \(ratio(ratioP99))")
        rows.append("| \(registers) | \(silenceName) | \(format(bus.median)) | \(format(bus.p99)) | \(format(c.median)) | \(format(c.p99)) | \(ratio(ratioMedian)) | \(ratio(ratioP99)) |")
    }
}

func ratio(_ value: Double) -> String {
    String((value * 100).rounded() / 100)
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

if let path = options.markdown {
    let body = """
    ## Modbus RTU: Bus vs a plain libmodbus loop

    Command: `make bench` (runs `modbridge-bench --c-loop .build/libmodbus-loop --write BENCHMARKS.md`).
    Measured \(utcDay()) on \(machineDescription()).

    Each row: \(options.transactions) reads of holding registers from unit 1 of the simulated controller over
    one pty at 115200 baud (after 100 warm-up reads), each awaited before the next. "Bus" is
    `Bus.perform` (queue, dedicated thread, async answer); "C" is `modbus_read_registers` in a loop
    (`Benchmarks/c/libmodbus_loop.c`) on the same pty and simulator, keeping the same silence
    before each request. Times in µs per transaction; ratio = Bus / C (target ≤ 1.10).

    | registers | inter-frame silence | Bus median | Bus p99 | C median | C p99 | ratio median | ratio p99 |
    |---|---|---|---|---|---|---|---|
    \(rows.joined(separator: "\n"))
    """
    do {
        try writeSection("bus-bench", body: body, to: path)
    } catch {
        fail("cannot write \(path): \(error)")
    }
    print("wrote \(path)")
}
