import TLS

/// How each end of an in-memory handshake came out.
struct HandshakeOutcome {
    var client: Result<TLSConnection.HandshakeProgress, TLSError>
    var server: Result<TLSConnection.HandshakeProgress, TLSError>

    var bothDone: Bool { (try? client.get()) == .done && (try? server.get()) == .done }
}

/// Moves what each connection has to send into the other, once each way; whether any byte moved.
@discardableResult
func exchange(_ one: TLSConnection, _ other: TLSConnection) -> Bool {
    var moved = false
    if one.hasOutput { other.receive(one.takeOutput()); moved = true }
    if other.hasOutput { one.receive(other.takeOutput()); moved = true }
    return moved
}

/// Runs the handshake of `client` and `server` through two byte buffers until no byte moves any
/// more. A handshake takes at most three flights each way; the bound of 10 rounds only keeps a
/// broken pump from spinning forever.
func handshake(_ client: TLSConnection, _ server: TLSConnection) -> HandshakeOutcome {
    var outcome = HandshakeOutcome(client: step(client), server: step(server))
    for _ in 0..<10 {
        guard exchange(client, server) else { break }
        outcome = HandshakeOutcome(client: step(client), server: step(server))
    }
    return outcome
}

private func step(_ connection: TLSConnection) -> Result<TLSConnection.HandshakeProgress, TLSError> {
    do throws(TLSError) {
        return .success(try connection.handshake())
    } catch {
        return .failure(error)
    }
}

/// Reads everything `connection` has decrypted so far, and whether close_notify came.
func readAll(_ connection: TLSConnection) throws(TLSError) -> (data: [UInt8], closed: Bool) {
    var data: [UInt8] = []
    while true {
        switch try connection.read() {
        case let .data(bytes): data += bytes
        case .needsInput: return (data, false)
        case .closed: return (data, true)
        }
    }
}
