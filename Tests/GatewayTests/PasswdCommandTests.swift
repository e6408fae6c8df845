import Foundation
import Glibc
import Serial
import Testing
import TestSupport
import TLS

/// `modbridge passwd`, the built binary, with the password on a pipe.
@Suite("modbridge passwd: a password from standard input, its hash on standard output")
struct PasswdCommandTests {
    @Test("A strong password gives one hash line that verifies, and nothing else on stdout")
    func strongPassword() throws {
        let result = try ModbridgeProcess.run(["passwd"], input: "Correct-Horse-42 battery\n")
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        try #require(lines.count == 2 && lines[1].isEmpty, "\(result.output)")
        #expect(lines[0].hasPrefix("$pbkdf2-sha256$i=600000$"))
        let hash = try PasswordHash(parsing: String(lines[0]))
        #expect(try hash.verify("Correct-Horse-42 battery"))
        #expect(try !hash.verify("Correct-Horse-42 battery\n"))
    }

    @Test("A weak password is refused with the rule it breaks", arguments: [
        ("Short-1a", "modbridge passwd: weak password: it has 8 characters, at least 14 are needed"),
        ("lowercaseonly-and-dashes", "modbridge passwd: weak password: it has characters from 2 of lowercase, uppercase, digits and other characters, at least 3 are needed"),
        ("", "modbridge passwd: no password on standard input"),
    ])
    func weakPassword(password: String, message: String) throws {
        let result = try ModbridgeProcess.run(["passwd"], input: password + "\n")
        #expect(result.status == 1)
        #expect(result.output.isEmpty)
        #expect(result.error == message + "\n")
    }

    @Test("A password given as an argument is a usage error that does not echo it")
    func passwordAsArgument() throws {
        let result = try ModbridgeProcess.run(["passwd", "Correct-Horse-42"], input: "")
        #expect(result.status == 64)
        #expect(result.output.isEmpty)
        #expect(result.error.hasPrefix("modbridge passwd: arguments: a password is never taken from the command line"))
        #expect(!result.error.contains("Correct-Horse-42"))
    }
}

/// `modbridge passwd` on a terminal: a pseudo-terminal in cooked mode with echo on, as a shell
/// leaves it; the test types on the controller side and reads what the terminal shows.
@Suite("modbridge passwd on a terminal: echo off while typing, asked twice, the terminal restored")
struct PasswdTerminalTests {
    /// Reads what the terminal shows until `marker` appears (or 30 s pass); returns all of it.
    private func read(_ pty: PseudoTerminal, until marker: String) -> String {
        var shown: [UInt8] = []
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        var buffer = [UInt8](repeating: 0, count: 512)
        while ContinuousClock.now < deadline, !String(decoding: shown, as: UTF8.self).contains(marker) {
            var waiting = pollfd(fd: pty.controllerDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&waiting, 1, 100) > 0 else { continue }
            let count = Glibc.read(pty.controllerDescriptor, &buffer, buffer.count)
            if count > 0 { shown += buffer[0..<count] } else if count == 0 { break }
        }
        return String(decoding: shown, as: UTF8.self)
    }

    private func type(_ text: String, on pty: PseudoTerminal) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(pty.controllerDescriptor, $0.baseAddress, $0.count) }
    }

    @Test("The password is asked twice and never shown; the hash goes to stdout; ECHO is on again afterwards")
    func typedOnATerminal() throws {
        let pty = try PseudoTerminal.open()
        // The terminal as a shell leaves it: canonical input, echo, CR read as NL.
        let terminal = open(pty.terminalPath, O_RDWR | O_NOCTTY)
        try #require(terminal >= 0)
        defer { Glibc.close(terminal) }
        var settings = termios()
        try #require(tcgetattr(terminal, &settings) == 0)
        settings.c_lflag |= tcflag_t(ECHO | ICANON | ISIG | ECHONL)
        settings.c_iflag |= tcflag_t(ICRNL)
        settings.c_oflag |= tcflag_t(OPOST | ONLCR)
        try #require(tcsetattr(terminal, TCSANOW, &settings) == 0)

        // stdin and stderr on the terminal, stdout on the pipe the test reads.
        let process = try ChildProcess("sh", ["-c", "exec \"$0\" passwd < \"$1\" 2> \"$1\"", ModbridgeProcess.executable, pty.terminalPath])
        let password = "Correct-Horse-42 battery"
        var shown = read(pty, until: "Password: ")
        type(password + "\r", on: pty)
        shown += read(pty, until: "Again: ")
        type(password + "\r", on: pty)
        let hash = try #require(process.readLine(timeout: .seconds(60)))
        #expect(ChildProcess.exitCode(process.waitForExit()) == 0)
        #expect(try PasswordHash(parsing: hash).verify(password))
        #expect(shown.contains("Password: ") && shown.contains("Again: "))
        #expect(!shown.contains("Correct-Horse"), "the terminal showed: \(shown)")
        var after = termios()
        try #require(tcgetattr(terminal, &after) == 0)
        #expect(after.c_lflag & tcflag_t(ECHO) != 0)
        // And what is typed now shows: the check above would have seen an echoed password.
        type("visible\r", on: pty)
        #expect(read(pty, until: "visible").contains("visible"))
    }
}
