import TLS

/// A certificate's identity as the registry stores it: the SHA-256 fingerprint of its DER (64
/// hex digits), or a legacy SHA-1 one (40) for records migrated from the cloud service.
package struct CertificateFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// Lowercase hex, no separators.
    package let hex: String

    /// Reads "AB:CD:…" or "abcd…" (64 or 40 hex digits); nil for anything else.
    package init?(_ text: String) {
        let normalized = Certificate.normalizedFingerprint(text)
        guard normalized.count == 64 || normalized.count == 40,
              normalized.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else { return nil }
        hex = normalized
    }

    /// A legacy SHA-1 fingerprint.
    package var isSHA1: Bool { hex.count == 40 }

    /// Whether `certificate` is the one this fingerprint names.
    package func matches(_ certificate: Certificate) -> Bool {
        hex == (isSHA1 ? certificate.sha1Fingerprint : certificate.sha256Fingerprint)
    }

    package var description: String { hex }
}

/// How an entity (a device or a registry) proves who it is: any number of password hashes and
/// certificates. One model for the embedded broker's logins and, later, upstream mode.
package struct Credentials: Sendable, Equatable {
    /// Salted slow hashes (never the passwords).
    package var passwordHashes: [PasswordHash]
    /// Certificates attached to the entity, by fingerprint.
    package var certificates: [CertificateFingerprint]

    package init(passwordHashes: [PasswordHash] = [], certificates: [CertificateFingerprint] = []) {
        self.passwordHashes = passwordHashes
        self.certificates = certificates
    }

    /// No way to log in as this entity.
    package var isEmpty: Bool { passwordHashes.isEmpty && certificates.isEmpty }
}

/// A device of a registry.
package struct DeviceEntry: Sendable, Equatable {
    /// Up to 50 of `[a-zA-Z0-9_-]`; unique across the whole configuration.
    package var id: String
    /// 3–63 of lowercase letters, digits, `-`; unique in its registry.
    package var name: String
    /// Topic prefixes that stand for `$devices/<id>/`, each ending in "/" (at most 5).
    package var aliases: [String]
    package var credentials: Credentials
    /// A Modbus controller polled by this gateway (its messages come from the gateway itself).
    package var isGatewayDevice: Bool

    package init(id: String, name: String, aliases: [String] = [], credentials: Credentials = Credentials(), isGatewayDevice: Bool = false) {
        self.id = id
        self.name = name
        self.aliases = aliases
        self.credentials = credentials
        self.isGatewayDevice = isGatewayDevice
    }
}

/// A registry: a set of devices it reads and commands.
package struct RegistryEntry: Sendable, Equatable {
    package var id: String
    package var name: String
    /// A disabled registry and all its devices are refused at CONNECT.
    package var disabled: Bool
    package var credentials: Credentials
    package var devices: [DeviceEntry]

    package init(id: String, name: String, disabled: Bool = false, credentials: Credentials = Credentials(), devices: [DeviceEntry] = []) {
        self.id = id
        self.name = name
        self.disabled = disabled
        self.credentials = credentials
        self.devices = devices
    }
}

/// Everything the registry policy decides from: the registries (validated by the config loader)
/// and the limits.
package struct RegistryDirectory: Sendable, Equatable {
    package var registries: [RegistryEntry]
    /// Messages per second a device (or registry) may publish; nil is no limit.
    package var messagesPerSecond: Int?

    package init(registries: [RegistryEntry], messagesPerSecond: Int? = nil) {
        self.registries = registries
        self.messagesPerSecond = messagesPerSecond
    }
}
