import FoundationEssentials
import TLS

/// Certificates made by the `openssl` CLI for one test, in a temporary folder: a CA, a second CA
/// that signed nothing here, a server certificate for server.test and 127.0.0.1, a client
/// certificate, an expired server certificate, and self-signed device certificates (one expired). EC P-256 keys, so that making them is quick.
package final class TestCertificates {
    package let folder = TemporaryFolder()

    package init() throws {
        try write("openssl.cnf", """
            [req]
            distinguished_name = name
            prompt = no
            [name]
            [ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            [server]
            basicConstraints = CA:FALSE
            subjectAltName = DNS:server.test,IP:127.0.0.1
            extendedKeyUsage = serverAuth
            [client]
            basicConstraints = CA:FALSE
            extendedKeyUsage = clientAuth

            """)
        try makeAuthority("ca", subject: "/CN=Test CA")
        try makeAuthority("other-ca", subject: "/CN=Other CA")
        try makeLeaf("server", subject: "/CN=server.test", extensions: "server", days: "30")
        try makeLeaf("client", subject: "/O=Plant/CN=client-1", extensions: "client", days: "30")
        // Valid from now until a day ago: verification finds it expired.
        try makeLeaf("expired", subject: "/CN=server.test", extensions: "server", days: "-1")
        // Device certificates as IoT Core users make them: self-signed, registered by fingerprint.
        try makeSelfSigned("device", subject: "/CN=device-1", days: "30")
        try makeSelfSigned("device-expired", subject: "/CN=device-2", days: "-1")
    }

    /// A self-signed client certificate `name.pem` with its key `name.key` (no CA).
    package func makeSelfSigned(_ name: String, subject: String, days: String) throws {
        // `req -x509` refuses a negative -days; `x509 -signkey` takes it (an expired one).
        try run(["req", "-new", "-config", path("openssl.cnf"), "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", subject])
        try run(["x509", "-req", "-in", path(name + ".csr"), "-signkey", path(name + ".key"), "-days", days,
                 "-extfile", path("openssl.cnf"), "-extensions", "client", "-out", path(name + ".pem")])
    }

    /// A client certificate `name.pem` with its key `name.key`, signed by the Test CA, subject
    /// `/CN=commonName` (a device's id where a broker takes the CN as the user name).
    package func makeClientCertificate(_ name: String, commonName: String, days: String = "30") throws {
        try makeLeaf(name, subject: "/CN=\(commonName)", extensions: "client", days: days)
    }

    /// The path of a file in the folder.
    package func path(_ name: String) -> String { folder.path + "/" + name }

    /// `name.pem` as a PEM source.
    package func pem(_ name: String) -> PEMSource { .file(path(name + ".pem")) }

    /// `name.key` as a PEM source.
    package func key(_ name: String) -> PEMSource { .file(path(name + ".key")) }

    /// The server configuration for `name` (its chain and key), trusting `ca` for clients.
    package func server(_ name: String = "server", clientCertificates: ClientCertificatePolicy = .none,
                version: TLSVersion? = nil) -> TLSConfiguration {
        TLSConfiguration(certificateChain: pem(name), privateKey: key(name), trustedCertificates: pem("ca"),
                         clientCertificates: clientCertificates, minimumVersion: version ?? .v1_2, maximumVersion: version ?? .v1_3)
    }

    /// The client configuration trusting `ca`, with the client certificate `certificate` if `withCertificate`.
    package func client(trusting ca: String = "ca", withCertificate: Bool = true, certificate: String = "client",
                        version: TLSVersion? = nil) -> TLSConfiguration {
        TLSConfiguration(certificateChain: withCertificate ? pem(certificate) : nil, privateKey: withCertificate ? key(certificate) : nil,
                         trustedCertificates: pem(ca), minimumVersion: version ?? .v1_2, maximumVersion: version ?? .v1_3)
    }

    /// `openssl x509 -fingerprint` of `name.pem` with `digest`, as printed ("AB:CD:...").
    package func fingerprintByCLI(_ name: String, digest: String) throws -> String {
        let line = try run(["x509", "-in", path(name + ".pem"), "-noout", "-fingerprint", "-\(digest)"])
        guard let equals = line.firstIndex(of: "=") else { throw TestCertificateError.commandFailed("no fingerprint in \(line)") }
        return String(line[line.index(after: equals)...])
    }

    /// Runs `openssl arguments`, failing unless it exits 0; its first line of output.
    @discardableResult
    package func run(_ arguments: [String]) throws -> String {
        let process = try ChildProcess("openssl", arguments)
        let line = process.readLine(timeout: .seconds(60)) ?? ""
        let status = process.waitForExit(timeout: .seconds(60))
        guard ChildProcess.exitCode(status) == 0 else {
            throw TestCertificateError.commandFailed("openssl \(arguments.joined(separator: " ")) ended with status \(status)")
        }
        return line
    }

    /// Writes `text` to a file in the folder.
    package func write(_ name: String, _ text: String) throws {
        guard FileManager.default.createFile(atPath: path(name), contents: Data(text.utf8)) else {
            throw TestCertificateError.commandFailed("cannot write \(name)")
        }
    }

    /// An intermediate CA signed by the Test CA, and `name` (for server.test) signed by it;
    /// `name-chain.pem` holds the leaf then the intermediate.
    package func makeIntermediateChain(_ name: String) throws {
        try makeLeaf("intermediate", subject: "/CN=Test Intermediate", extensions: "ca", days: "30")
        try makeLeaf(name, subject: "/CN=server.test", extensions: "server", days: "30", issuer: "intermediate")
        let leaf = try String(contentsOfFile: path(name + ".pem"), encoding: .utf8)
        let intermediate = try String(contentsOfFile: path("intermediate.pem"), encoding: .utf8)
        try write(name + "-chain.pem", leaf + intermediate)
    }

    private func makeAuthority(_ name: String, subject: String) throws {
        try run(["req", "-x509", "-config", path("openssl.cnf"), "-extensions", "ca", "-newkey", "ec",
                 "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".pem"),
                 "-subj", subject, "-days", "30"])
    }

    private func makeLeaf(_ name: String, subject: String, extensions: String, days: String, issuer: String = "ca") throws {
        try run(["req", "-new", "-config", path("openssl.cnf"), "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", subject])
        try run(["x509", "-req", "-in", path(name + ".csr"), "-CA", path(issuer + ".pem"), "-CAkey", path(issuer + ".key"),
                 "-days", days, "-extfile", path("openssl.cnf"), "-extensions", extensions, "-out", path(name + ".pem")])
    }
}

package enum TestCertificateError: Error {
    case commandFailed(String)
}
