import TLS

/// A device or a registry, as a login names it: what the policy needs to check its credentials
/// and compile its rules.
struct Entity: Sendable {
    enum Kind: Sendable { case device, registry }

    let kind: Kind
    let id: String
    let credentials: Credentials
    /// Its registry (itself, for a registry).
    let scope: RegistryScope
    /// A device the gateway polls (its monitoring document gets the provider's fields).
    let isGatewayDevice: Bool
}

/// What the rules of every entity of one registry share, compiled once: the registry's device
/// ids and its aliases.
final class RegistryScope: Sendable {
    let id: String
    let disabled: Bool
    /// Device ids, sorted (wildcard expansion answers in a stable order: UNSUBSCRIBE finds what
    /// SUBSCRIBE stored).
    let deviceIDs: [String]
    let deviceIDSet: Set<Substring>
    /// Alias namings, sorted by presented prefix.
    let aliases: [Naming]
    /// Canonical prefix (`$devices/<id>/`) by presented prefix (`plant/oven1/`), for PUBLISH.
    let aliasByPrefix: [Substring: String]

    init(_ registry: RegistryEntry) {
        id = registry.id
        disabled = registry.disabled
        deviceIDs = registry.devices.map(\.id).sorted()
        deviceIDSet = Set(deviceIDs.map { Substring($0) })
        var aliases: [Naming] = []
        var byPrefix: [Substring: String] = [:]
        for device in registry.devices {
            for alias in device.aliases where alias.hasSuffix("/") && !alias.hasPrefix("$") {
                let canonical = "$devices/\(device.id)/"
                aliases.append(Naming(presented: alias, canonical: canonical))
                byPrefix[Substring(alias)] = canonical
            }
        }
        self.aliases = aliases.sorted { $0.presentedPrefix.presented < $1.presentedPrefix.presented }
        aliasByPrefix = byPrefix
    }
}

/// The directory as the policy looks things up: entities by id and by certificate fingerprint.
struct RegistryIndex: Sendable {
    private(set) var entities: [String: Entity] = [:]
    /// Entity id by fingerprint hex (SHA-256 and legacy SHA-1 alike: their lengths differ).
    private(set) var byFingerprint: [String: String] = [:]
    /// The iteration count of the directory's password hashes, for the dummy check of an
    /// unknown user name (it costs what a real one does).
    private(set) var typicalIterations = PasswordHash.defaultIterations

    init(_ directory: RegistryDirectory) {
        var iterations: Int?
        // The config loader rejects duplicate ids and certificates; should one slip through,
        // the first entry keeps it.
        func add(_ entity: Entity) {
            if entities[entity.id] == nil { entities[entity.id] = entity }
            for fingerprint in entity.credentials.certificates where byFingerprint[fingerprint.hex] == nil {
                byFingerprint[fingerprint.hex] = entity.id
            }
            if iterations == nil { iterations = entity.credentials.passwordHashes.first?.iterations }
        }
        for registry in directory.registries {
            let scope = RegistryScope(registry)
            add(Entity(kind: .registry, id: registry.id, credentials: registry.credentials, scope: scope, isGatewayDevice: false))
            for device in registry.devices {
                add(Entity(kind: .device, id: device.id, credentials: device.credentials, scope: scope, isGatewayDevice: device.isGatewayDevice))
            }
        }
        if let iterations { typicalIterations = iterations }
    }

    /// The entity whose certificate this is (SHA-256 fingerprint first, then a legacy SHA-1).
    func entity(presenting certificate: Certificate) -> Entity? {
        guard let id = byFingerprint[certificate.sha256Fingerprint] ?? byFingerprint[certificate.sha1Fingerprint] else { return nil }
        return entities[id]
    }
}
