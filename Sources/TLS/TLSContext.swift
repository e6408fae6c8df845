/// A configured TLS endpoint, server or client, from which connections are made. Immutable and
/// shareable between threads once built; every failure names the file or the step.
package final class TLSContext: Sendable {
    /// Which end of the handshake this context's connections take.
    package let role: TLSRole
    let openSSL: OpenSSLContext

    /// A server context: a certificate chain and key are required; `clientCertificates` with
    /// `trustedCertificates` decide whether clients must prove who they are.
    package static func server(_ configuration: TLSConfiguration) throws(TLSError) -> TLSContext {
        try TLSContext(role: .server, configuration: configuration)
    }

    /// A client context: verifies servers against `trustedCertificates` (or the system's CAs);
    /// a chain and key, if given, answer a server's certificate request.
    package static func client(_ configuration: TLSConfiguration) throws(TLSError) -> TLSContext {
        try TLSContext(role: .client, configuration: configuration)
    }

    private init(role: TLSRole, configuration: TLSConfiguration) throws(TLSError) {
        self.role = role
        openSSL = try OpenSSLContext(role: role, configuration: configuration)
    }

    /// A server-side connection, waiting for a ClientHello.
    package func makeServerConnection() throws(TLSError) -> TLSConnection {
        guard role == .server else { throw .configuration(step: "make a server connection", detail: "this is a client context") }
        return try TLSConnection(context: self, serverName: nil)
    }

    /// A client-side connection to `serverName` (a DNS name or an IP address): sent in SNI and
    /// required in the server's certificate. Call `handshake()` to produce the ClientHello.
    package func makeClientConnection(serverName: String) throws(TLSError) -> TLSConnection {
        guard role == .client else { throw .configuration(step: "make a client connection", detail: "this is a server context") }
        guard !serverName.isEmpty else { throw .configuration(step: "make a client connection", detail: "the server name is empty") }
        return try TLSConnection(context: self, serverName: serverName)
    }
}
