import Glibc
import POSIX

/// An answer as a test client read it off the wire.
package struct TestHTTPResponse: CustomStringConvertible {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    /// The first header field named `name` (case-insensitive).
    package func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    package var text: String { String(decoding: body, as: UTF8.self) }

    package var description: String { "\(status) \(headers.map { "\($0.name): \($0.value)" }) \(text.prefix(200))" }
}

/// A blocking HTTP/1.1 (and WebSocket) client on one connection to 127.0.0.1, for tests: it
/// writes what it is told, byte for byte, and reads answers with a deadline.
package final class HTTPTestConnection {
    package let socket: Socket
    private var received: [UInt8] = []
    /// The server closed the connection (end of stream or reset).
    package private(set) var closedByServer = false

    package init(port: UInt16) throws {
        socket = try Socket.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
    }

    package func send(_ text: String) throws { try socket.writeAll(Array(text.utf8)) }
    package func send(_ bytes: [UInt8]) throws { try socket.writeAll(bytes) }

    /// A GET with the given extra header lines ("Name: value").
    package func get(_ target: String, headers: [String] = []) throws -> TestHTTPResponse? {
        try send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n")
        return readResponse()
    }

    /// Reads more bytes until `enough` says what is buffered suffices, the server closes, or
    /// the deadline passes.
    private func fill(timeout: Duration, until enough: ([UInt8]) -> Bool) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !enough(received), !closedByServer {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return }
            do {
                guard try socket.wait(for: Int16(POLLIN), timeout: remaining) else { continue }
                guard let count = try buffer.withUnsafeMutableBytes({ try socket.read(into: $0) }) else { continue }
                if count == 0 { closedByServer = true } else { received += buffer[0..<count] }
            } catch {
                closedByServer = true
            }
        }
    }

    /// The next answer (status line, header fields, a body of Content-Length bytes, none for a
    /// HEAD); nil if it does not come whole in time.
    package func readResponse(toHEAD: Bool = false, timeout: Duration = .seconds(10)) -> TestHTTPResponse? {
        fill(timeout: timeout) { Self.responseLength($0, toHEAD: toHEAD) != nil }
        guard let length = Self.responseLength(received, toHEAD: toHEAD) else { return nil }
        let response = Self.parse(Array(received[0..<length]))
        received.removeFirst(length)
        return response
    }

    /// Whether the server closes the connection within `timeout` (bytes it sends first are kept).
    package func waitForClose(timeout: Duration = .seconds(10)) -> Bool {
        fill(timeout: timeout) { _ in false }
        return closedByServer
    }

    /// Bytes received and not yet taken as an answer or frame.
    package var unread: [UInt8] { received }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private static func responseLength(_ bytes: [UInt8], toHEAD: Bool) -> Int? {
        guard let end = headerEnd(bytes) else { return nil }
        let head = parse(Array(bytes[0..<end]))
        let bodyLength = toHEAD || head.status == 101 || head.status == 204 || head.status == 304 ? 0 : Int(head.header("Content-Length") ?? "0") ?? 0
        return bytes.count >= end + bodyLength ? end + bodyLength : nil
    }

    private static func parse(_ bytes: [UInt8]) -> TestHTTPResponse {
        let end = headerEnd(bytes) ?? bytes.count
        let lines = String(decoding: bytes[0..<max(0, end - 4)], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        return TestHTTPResponse(status: status, headers: headers, body: Array(bytes[end...]))
    }

    // MARK: - WebSocket (RFC 6455)

    /// A client frame: masked (section 5.3) with `mask`.
    package static func clientFrame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D]) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        guard let mask else { return frame + payload }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// The next server frame: its first byte (FIN, opcode) and payload; nil if it does not come whole in time.
    package func readFrame(timeout: Duration = .seconds(10)) -> (fin: Bool, opcode: UInt8, payload: [UInt8])? {
        fill(timeout: timeout) { Self.frameLength($0) != nil }
        guard let (header, length) = Self.frameLength(received).map({ ($0.header, $0.payload) }) else { return nil }
        let first = received[0]
        let payload = Array(received[header..<(header + length)])
        received.removeFirst(header + length)
        return (first & 0x80 != 0, first & 0x0F, payload)
    }

    private static func frameLength(_ bytes: [UInt8]) -> (header: Int, payload: Int)? {
        guard bytes.count >= 2 else { return nil }
        var header = 2
        var length = Int(bytes[1] & 0x7F)
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            header = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
            header = 10
        }
        if bytes[1] & 0x80 != 0 { header += 4 }
        return bytes.count >= header + length ? (header, length) : nil
    }
}
