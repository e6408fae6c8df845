import Glibc
import POSIX
import Synchronization
import Testing

@Suite("Logger")
struct LoggerTests {
    @Test("a record is one line of key=value fields, values with spaces, quotes or = quoted")
    func lineFormat() {
        let plain = LogRecord(level: .info, event: "line_opened", fields: [("bus", "rtu"), ("line", "/dev/ttyUSB0")])
        #expect(plain.line == "level=info event=line_opened bus=rtu line=/dev/ttyUSB0")
        let quoted = LogRecord(level: .warning, event: "device_offline",
                               fields: [("error", "timed out"), ("note", "say \"hi\""), ("expr", "a=b"), ("empty", "")])
        #expect(quoted.line == #"level=warning event=device_offline error="timed out" note="say \"hi\"" expr="a=b" empty="""#)
    }

    @Test("records below the minimum level are skipped; the rest reach the handler in order")
    func minimumLevel() {
        let captured = CapturedLog()
        let logger = captured.logger(minimumLevel: .warning)
        logger.log(.debug, "a")
        logger.log(.info, "b")
        logger.log(.warning, "c", ["k": "v"])
        logger.log(.error, "d", [("x", "1")])
        #expect(captured.all.map(\.event) == ["c", "d"])
        #expect(captured.events("c").first?["k"] == "v")
    }

    @Test("StandardErrorLog writes the lines in order; flush returns once they are out")
    func writesInOrder() throws {
        let ends = try makePipe()
        defer { close(ends.read) }
        let log = try StandardErrorLog(descriptor: ends.write, capacity: 64)
        let logger = log.logger()
        for index in 0..<10 { logger.log(.info, "tick", ["n": String(index)]) }
        #expect(log.flush(timeout: .seconds(30)))
        log.stop()
        close(ends.write)
        let text = readAll(ends.read)
        #expect(text == (0..<10).map { "level=info event=tick n=\($0)\n" }.joined())
        #expect(log.droppedLines == 0)
    }

    @Test("StandardErrorLog never blocks on a full pipe nobody reads: lines past the bound are dropped, counted and reported")
    func fullPipeDropsAndCounts() throws {
        let ends = try makePipe()
        defer { close(ends.read) }
        let log = try StandardErrorLog(descriptor: ends.write, capacity: 8)
        let logger = log.logger()
        // 5000 lines of ~100 bytes are far more than a pipe holds (64 KiB by default) plus the
        // queue: the logging calls return although nobody reads (a blocked call would hang here).
        let padding = String(repeating: "x", count: 80)
        let total = 5000
        for index in 0..<total { logger.log(.info, "burst", ["n": String(index), "pad": padding]) }
        let dropped = log.droppedLines
        #expect(dropped > 0)

        // Now read: what was kept arrives in order, followed by the drop report; nothing else is lost.
        let reader = Mutex("")
        let readerThread = try DedicatedThread(name: "pipe reader") { reader.withLock { $0 = readAll(ends.read) } }
        #expect(log.flush(timeout: .seconds(60)))
        log.stop()
        close(ends.write)
        readerThread.join()
        let lines = reader.withLock { $0 }.split(separator: "\n").map(String.init)
        let kept = lines.filter { $0.hasPrefix("level=info event=burst ") }
        let reports = lines.filter { $0.hasPrefix("level=warning event=log_lines_dropped count=") }
        let reported = reports.compactMap { Int($0.split(separator: "=").last ?? "") }.reduce(0, +)
        #expect(kept.count + dropped == total)
        #expect(reported == dropped)
        #expect(kept.count + reports.count == lines.count)
        let numbers = kept.compactMap { line in line.split(separator: " ").first { $0.hasPrefix("n=") }.flatMap { Int($0.dropFirst(2)) } }
        #expect(numbers == numbers.sorted())
    }
}

private func makePipe() throws -> (read: Int32, write: Int32) {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { throw Errno(rawValue: errno) }
    return (ends[0], ends[1])
}

private func readAll(_ descriptor: Int32) -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
