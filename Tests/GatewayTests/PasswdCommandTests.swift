import Foundation
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
