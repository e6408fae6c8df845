import Glibc
import Mapping
import POSIX
import Synchronization
import TLS

/// `modbridge passwd`: makes the hash of a password for the config's `credentials.passwords`.
package struct PasswdCommand: Command {
    package static let name = "passwd"
    package static let summary = "hash a password for a device's or registry's credentials"
    package static let help = """
    Usage: modbridge passwd < FILE
           modbridge passwd            (asks on the terminal, twice, without echo)

    Reads a password from standard input (its first line), never from the command line, and
    prints its hash for "credentials": {"passwords": [...]} in the gateway config:
      $pbkdf2-sha256$i=600000$<salt>$<hash>
    and nothing else on standard output. A password needs at least 14 characters, from at least
    3 of: lowercase letters, uppercase letters, digits, other characters; a weaker one is refused
    with the rule it breaks (exit status 1). Exit status 64 if arguments are given, 130 if
    interrupted.
    """

    package init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        // Never echoed: an argument here is most likely the password itself.
        if !arguments.takeRemaining().isEmpty {
            throw arguments.error("arguments", "a password is never taken from the command line (ps and the shell history would show it); type it when asked, or give it on standard input")
        }
    }

    /// How reading and hashing ended.
    enum Outcome: Sendable {
        case hash(String)
        case refused(String)
        case interrupted
    }

    package func run(logger: Logger) async -> Int32 {
        Signals.install()
        let prompt = PasswordPrompt()
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let once = Mutex<CheckedContinuation<Outcome, Never>?>(continuation)
            let finish: @Sendable (Outcome) -> Void = { outcome in once.withLock { $0.take() }?.resume(returning: outcome) }
            // Reading blocks and hashing takes a good fraction of a second: both on a thread of their own.
            do {
                let thread = try DedicatedThread(name: "passwd") { finish(Self.readAndHash(prompt)) }
                thread.detach()
            } catch {
                finish(.refused("cannot start a thread: \(error)"))
            }
            Task {
                await Signals.shared.termination()
                prompt.restore()
                finish(.interrupted)
            }
        }
        prompt.restore()
        switch outcome {
        case let .hash(line):
            Output.print(line)
            return ExitStatus.success
        case let .refused(reason):
            Output.error("modbridge passwd: \(reason)")
            return ExitStatus.failure
        case .interrupted:
            // The prompt's line is unfinished on a terminal.
            Output.error((prompt.isTerminal ? "\n" : "") + "modbridge passwd: interrupted")
            return 130  // 128 + SIGINT, as shells report it
        }
    }

    private static func readAndHash(_ prompt: PasswordPrompt) -> Outcome {
        let password: String
        do {
            if prompt.isTerminal {
                prompt.hideInput()
                defer { prompt.restore() }
                Output.error("Password: ", line: false)
                let first = try prompt.readLine()
                if let weakness = PasswordRules.weakness(of: first) { return .refused("weak password: \(weakness)") }
                Output.error("Again: ", line: false)
                guard try prompt.readLine() == first else { return .refused("the two passwords differ") }
                password = first
            } else {
                password = try prompt.readLine()
            }
        } catch {
            return .refused("\(error)")
        }
        if let weakness = PasswordRules.weakness(of: password) { return .refused("weak password: \(weakness)") }
        do {
            return .hash(try PasswordHash.make(password: password).encoded)
        } catch {
            return .refused("\(error)")
        }
    }
}
