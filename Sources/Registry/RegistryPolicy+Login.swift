import Broker
import MQTT
import TLS

/// Login (IOT-CORE.md, "Login"): the user name names the entity; a password, when given, is the
/// only credential looked at (it wins over a certificate); otherwise the TLS client certificate
/// names the entity by its registered fingerprint.
extension RegistryPolicy {
    package func authenticate(_ request: ConnectRequest) -> AuthenticationStep {
        let certificate: Certificate?
        switch request.channel {
        case .inProcess:
            return refuse(.notAuthorized, request.username, "the in-process API is not a CONNECT path")
        case let .plain(insecure):
            if request.password != nil && !insecure {
                return refuse(.notAuthorized, request.username, "password over a plain listener not marked insecure")
            }
            certificate = nil
        case let .tls(clientCertificate):
            certificate = clientCertificate
        }
        if let password = request.password {
            return passwordLogin(request, password: password)
        }
        guard let certificate else {
            if request.username == nil, let anonymous = request.anonymousEntity {
                return anonymousLogin(request, as: anonymous)
            }
            return refuse(.notAuthorized, request.username, "no password and no client certificate")
        }
        return certificateLogin(request, certificate: certificate)
    }

    private func passwordLogin(_ request: ConnectRequest, password: [UInt8]) -> AuthenticationStep {
        guard let username = request.username, let entity = index.entities[username] else {
            // Unknown user name: the same slow check as a known one, so timing tells nothing.
            let dummyHash = self.dummyHash
            let username = request.username
            return .verify {
                _ = try? dummyHash?.verify(bytes: password)
                return .refused(.badUsernameOrPassword, Refusal(entity: username, reason: "unknown user name"))
            }
        }
        if let refusal = disabledRefusal(entity) { return .decided(refusal) }
        if cache.contains(entity: entity.id, password: password) {
            return .decided(accept(request, entity))
        }
        let (cache, dummyHash, policy) = (self.cache, self.dummyHash, self)
        return .verify {
            let hashes = entity.credentials.passwordHashes
            if hashes.isEmpty { _ = try? dummyHash?.verify(bytes: password) }
            for hash in hashes where (try? hash.verify(bytes: password)) == true {
                cache.insert(entity: entity.id, password: password)
                return policy.accept(request, entity)
            }
            return .refused(.badUsernameOrPassword, Refusal(entity: entity.id, reason: hashes.isEmpty ? "no password registered" : "wrong password"))
        }
    }

    private func certificateLogin(_ request: ConnectRequest, certificate: Certificate) -> AuthenticationStep {
        guard let entity = index.entity(presenting: certificate) else {
            return refuse(.notAuthorized, request.username, "client certificate \(certificate.sha256Fingerprint) (\(certificate.subject)) is not registered")
        }
        let now = wallClock().seconds
        if now < certificate.notBefore {
            return refuse(.notAuthorized, entity.id, "client certificate not valid before \(WallTime(seconds: certificate.notBefore).rfc3339)")
        }
        if now > certificate.notAfter {
            return refuse(.notAuthorized, entity.id, "client certificate expired at \(WallTime(seconds: certificate.notAfter).rfc3339)")
        }
        if let username = request.username, username != entity.id {
            return refuse(.notAuthorized, entity.id, "user name \(username) is not the certificate's entity")
        }
        if let refusal = disabledRefusal(entity) { return .decided(refusal) }
        return .decided(accept(request, entity))
    }

    /// A client without any credentials on a listener that names an entity for them (trusted
    /// local consumers): that entity's rules, if it exists and its registry is enabled.
    private func anonymousLogin(_ request: ConnectRequest, as entityID: String) -> AuthenticationStep {
        guard let entity = index.entities[entityID] else {
            return refuse(.notAuthorized, entityID, "the listener's anonymous entity is not in the registry")
        }
        if let refusal = disabledRefusal(entity) { return .decided(refusal) }
        return .decided(accept(request, entity))
    }

    private func disabledRefusal(_ entity: Entity) -> Authentication? {
        guard entity.scope.disabled else { return nil }
        return .refused(.notAuthorized, Refusal(entity: entity.id, reason: "registry \(entity.scope.id) is disabled"))
    }

    private func accept(_ request: ConnectRequest, _ entity: Entity) -> Authentication {
        .accepted(ClientIdentity(clientID: request.clientID, username: entity.id, remoteAddress: request.remoteAddress), rules(for: entity))
    }

    private func refuse(_ code: ConnectReturnCode, _ entity: String?, _ reason: String) -> AuthenticationStep {
        .decided(.refused(code, Refusal(entity: entity, reason: reason)))
    }
}
