import Broker
import MQTT
import Registry
import TestSupport
import Testing
import TLS

@Suite("Registry: logins by password and certificate (the contract's Login section)")
struct LoginTests {
    /// oven-1 has a password and the self-signed `device` certificate (SHA-256); oven-2 the
    /// CA-signed `client` certificate by its legacy SHA-1; pump-1 the expired `device-expired`.
    struct Setup {
        let certificates: TestCertificates
        let device: Certificate
        let client: Certificate
        let expired: Certificate
        let unregistered: Certificate
        let wallClock = TestWallClock()
        let policy: RegistryPolicy

        init() throws {
            certificates = try TestCertificates()
            device = try Certificate.load(certificates.pem("device"))
            client = try Certificate.load(certificates.pem("client"))
            expired = try Certificate.load(certificates.pem("device-expired"))
            unregistered = try Certificate.load(certificates.pem("server"))
            func fingerprint(_ text: String) throws -> [CertificateFingerprint] {
                guard let parsed = CertificateFingerprint(text) else { throw TestCertificateError.commandFailed("fingerprint \(text)") }
                return [parsed]
            }
            let fixture = try RegistryFixture(certificates: ["oven-1": try fingerprint(device.sha256Fingerprint),
                                                             "oven-2": try fingerprint(client.sha1Fingerprint),
                                                             "pump-1": try fingerprint(expired.sha256Fingerprint)])
            // Inside every certificate's validity except the expired one's.
            wallClock.set(WallTime(seconds: device.notBefore + 60))
            policy = RegistryPolicy(fixture.directory, wallClock: wallClock.clock)
        }

        func login(username: String? = nil, password: String? = nil, certificate: Certificate? = nil,
                   channel: ConnectChannel? = nil) -> LoginOutcome {
            policy.login(ConnectRequest(clientID: "c", username: username, password: password.map { Array($0.utf8) },
                                        remoteAddress: "10.0.0.5", channel: channel ?? .tls(clientCertificate: certificate))).outcome
        }
    }

    @Test("Password, certificate, both: all four good/bad combinations; the password wins")
    func matrix() throws {
        let setup = try Setup()
        let good = RegistryFixture.ovenPassword
        #expect(setup.login(username: "oven-1", password: good) == .accepted("oven-1"))
        #expect(setup.login(username: "oven-1", password: "Wrong-password-1") == .refused(.badUsernameOrPassword))
        #expect(setup.login(certificate: setup.device) == .accepted("oven-1"))
        #expect(setup.login(username: "oven-1", certificate: setup.device) == .accepted("oven-1"))
        #expect(setup.login(certificate: setup.unregistered) == .refused(.notAuthorized))
        // Both given: good + good, bad certificate + good password, good certificate + bad password, bad + bad.
        #expect(setup.login(username: "oven-1", password: good, certificate: setup.device) == .accepted("oven-1"))
        #expect(setup.login(username: "oven-1", password: good, certificate: setup.unregistered) == .accepted("oven-1"))
        #expect(setup.login(username: "oven-1", password: good, certificate: setup.client) == .accepted("oven-1"))
        #expect(setup.login(username: "oven-1", password: "Wrong-password-1", certificate: setup.device) == .refused(.badUsernameOrPassword))
        #expect(setup.login(username: "oven-1", password: "Wrong-password-1", certificate: setup.unregistered) == .refused(.badUsernameOrPassword))
        // A registry's password.
        #expect(setup.login(username: "plant-1", password: RegistryFixture.plantPassword) == .accepted("plant-1"))
        #expect(setup.login(username: "plant-1", password: good) == .refused(.badUsernameOrPassword))
    }

    @Test("Refusals: no credentials, unknown user, a user name that is not the certificate's, a device without a password")
    func refusals() throws {
        let setup = try Setup()
        #expect(setup.login() == .refused(.notAuthorized))
        #expect(setup.login(username: "oven-1") == .refused(.notAuthorized))
        #expect(setup.login(username: "oven-2", certificate: setup.device) == .refused(.notAuthorized))
        #expect(setup.login(username: "pump-1", password: "Some-password-1") == .refused(.badUsernameOrPassword))
        let unknown = setup.policy.login(ConnectRequest(clientID: "c", username: "nobody", password: Array("Some-password-1".utf8),
                                                        remoteAddress: "10.0.0.5", channel: .tls(clientCertificate: nil)))
        // An unknown user name with a password costs a (dummy) hash too.
        #expect(unknown.outcome == .refused(.badUsernameOrPassword) && !unknown.decidedAtOnce)
        guard case let .decided(.refused(_, refusal)) = setup.policy.authenticate(
            ConnectRequest(clientID: "c", username: "oven-2", remoteAddress: "10.0.0.5", channel: .tls(clientCertificate: setup.device))) else {
            Issue.record("not refused at once")
            return
        }
        #expect(refusal.entity == "oven-1" && refusal.reason.contains("oven-2"))
    }

    @Test("A legacy SHA-1 fingerprint identifies its certificate")
    func sha1() throws {
        let setup = try Setup()
        #expect(setup.login(certificate: setup.client) == .accepted("oven-2"))
    }

    @Test("Expired and not-yet-valid certificates are refused with 5")
    func validity() throws {
        let setup = try Setup()
        #expect(setup.login(certificate: setup.expired) == .refused(.notAuthorized))
        setup.wallClock.set(WallTime(seconds: setup.device.notBefore - 3600))
        #expect(setup.login(certificate: setup.device) == .refused(.notAuthorized))
        setup.wallClock.set(WallTime(seconds: setup.device.notAfter + 1))
        #expect(setup.login(certificate: setup.device) == .refused(.notAuthorized))
        // The password does not care about the certificate's dates.
        #expect(setup.login(username: "oven-1", password: RegistryFixture.ovenPassword, certificate: setup.device) == .accepted("oven-1"))
    }

    @Test("A disabled registry and its devices are refused with 5, by password as by certificate")
    func disabled() throws {
        let setup = try Setup()
        #expect(setup.login(username: "legacy-1", password: RegistryFixture.legacyPassword) == .refused(.notAuthorized))
        #expect(setup.login(username: "old", password: RegistryFixture.legacyPassword) == .refused(.notAuthorized))
    }

    @Test("Passwords only over TLS or an insecure listener; the in-process API is no CONNECT path")
    func channels() throws {
        let setup = try Setup()
        let good = RegistryFixture.ovenPassword
        #expect(setup.login(username: "oven-1", password: good, channel: .plain(insecure: false)) == .refused(.notAuthorized))
        #expect(setup.login(username: "oven-1", password: good, channel: .plain(insecure: true)) == .accepted("oven-1"))
        #expect(setup.login(username: "oven-1", password: "Wrong-password-1", channel: .plain(insecure: true)) == .refused(.badUsernameOrPassword))
        #expect(setup.login(username: "oven-1", channel: .plain(insecure: true)) == .refused(.notAuthorized))
        #expect(setup.login(username: "oven-1", password: good, channel: .inProcess) == .refused(.notAuthorized))
    }

    @Test("Cache: a password that logged in before is accepted without the slow check; a wrong one still pays it")
    func cache() throws {
        let setup = try Setup()
        func request(_ password: String) -> ConnectRequest {
            ConnectRequest(clientID: "c", username: "oven-1", password: Array(password.utf8), remoteAddress: "10.0.0.5",
                           channel: .plain(insecure: true))
        }
        let first = setup.policy.login(request(RegistryFixture.ovenPassword))
        #expect(first.outcome == .accepted("oven-1") && !first.decidedAtOnce)
        let second = setup.policy.login(request(RegistryFixture.ovenPassword))
        #expect(second.outcome == .accepted("oven-1") && second.decidedAtOnce)
        let wrong = setup.policy.login(request("Wrong-password-1"))
        #expect(wrong.outcome == .refused(.badUsernameOrPassword) && !wrong.decidedAtOnce)
        // The cache is per entity: the same password does not open another one.
        let other = setup.policy.login(ConnectRequest(clientID: "c", username: "plant-1", password: Array(RegistryFixture.ovenPassword.utf8),
                                                      remoteAddress: "10.0.0.5", channel: .plain(insecure: true)))
        #expect(other.outcome == .refused(.badUsernameOrPassword) && !other.decidedAtOnce)
    }
}
