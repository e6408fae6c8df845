/// A message topic a device receives, parsed: a command for one point or a batch (sent to the
/// device or to its whole registry), or the device's desired config.
package enum CommandTopic: Equatable, Sendable {
    /// `<device>/commands/<point>`.
    case devicePoint(device: String, point: String)
    /// `<device>/commands`.
    case deviceBatch(device: String)
    /// `<registry>/commands/<point>`.
    case registryPoint(registry: String, point: String)
    /// `<registry>/commands`.
    case registryBatch(registry: String)
    /// `<device>/config`.
    case config(device: String)

    /// True for `config`, whose answers are marked as such on `events/ack`.
    package var isConfig: Bool {
        if case .config = self { return true }
        return false
    }
}

/// Every topic of the gateway, built and parsed in one place, from two templates: the root of a
/// device's topics and the root of a registry's, each with `{id}` as one whole level
/// (`$devices/{id}` and `$registries/{id}` by default). Under a device's root: `events`,
/// `events/<point>`, `events/ack`, `state`, `commands`, `commands/<point>`, `config`; under a
/// registry's: `commands`, `commands/<point>`.
package struct TopicLayout: Equatable, Sendable {
    /// A root template split around its `{id}` level: what comes before the id and after it.
    private struct Root: Equatable, Sendable {
        let template: String
        let head: String
        let tail: String

        init(_ template: String) throws(GatewayError) {
            let levels = template.split(separator: "/", omittingEmptySubsequences: false)
            let idLevels = levels.indices.filter { levels[$0] == "{id}" }
            guard idLevels.count == 1, let idLevel = idLevels.first, !template.contains("+"), !template.contains("#"),
                  template.components(of: "{id}") == 1 else {
                throw .topicTemplate(template, reason: "expected {id} once, as a whole level, and no wildcard")
            }
            self.template = template
            head = levels[..<idLevel].map { $0 + "/" }.joined()
            tail = levels[(idLevel + 1)...].map { "/" + $0 }.joined()
        }

        /// A root whose template starts with `head` and ends with `{id}`.
        init(head: String) {
            template = head + "{id}"
            self.head = head
            tail = ""
        }

        func topic(_ id: String) -> String { head + id + tail }

        /// The id and what follows the root (without its `/`), if `topic` is under this root.
        func match(_ topic: String) -> (id: Substring, rest: Substring)? {
            guard topic.hasPrefix(head) else { return nil }
            let afterHead = topic.dropFirst(head.count)
            guard let slash = afterHead.firstIndex(of: "/") else { return nil }
            let id = afterHead[..<slash]
            let afterID = afterHead[slash...]
            guard !id.isEmpty, afterID.hasPrefix(tail + "/") else { return nil }
            return (id, afterID.dropFirst(tail.count + 1))
        }
    }

    private let device: Root
    private let registry: Root

    /// Today's topics: `$devices/{id}/…` and `$registries/{id}/…`.
    package static let standard = TopicLayout(device: Root(head: "$devices/"), registry: Root(head: "$registries/"))

    /// A layout with these root templates; each must hold `{id}` once as a whole level.
    package init(device: String, registry: String) throws(GatewayError) {
        self.device = try Root(device)
        self.registry = try Root(registry)
    }

    private init(device: Root, registry: Root) {
        self.device = device
        self.registry = registry
    }

    /// The root of `id`'s topics.
    package func deviceRoot(_ id: String) -> String { device.topic(id) }
    /// Each poll cycle's `events` document.
    package func events(device id: String) -> String { device.topic(id) + "/events" }
    /// One point's value, for points with a subtopic.
    package func events(device id: String, point: String) -> String { device.topic(id) + "/events/" + point }
    /// Answers to commands and config.
    package func ack(device id: String) -> String { device.topic(id) + "/events/ack" }
    /// The retained `state` document.
    package func state(device id: String) -> String { device.topic(id) + "/state" }
    /// The topic a `CommandTopic` stands for.
    package func topic(_ command: CommandTopic) -> String {
        switch command {
        case let .devicePoint(id, point): device.topic(id) + "/commands/" + point
        case let .deviceBatch(id): device.topic(id) + "/commands"
        case let .registryPoint(id, point): registry.topic(id) + "/commands/" + point
        case let .registryBatch(id): registry.topic(id) + "/commands"
        case let .config(id): device.topic(id) + "/config"
        }
    }

    /// The filters a device subscribes to: its commands, its config and its registry's commands.
    package func commandFilters(device id: String, registry registryID: String) -> [String] {
        Self.commandFilters(deviceRoot: device.topic(id), registryRoot: registry.topic(registryID))
    }

    /// The filters of a connection that serves many devices (an upstream `shared` one): every
    /// device's and every registry's commands and config; messages for others are let go.
    package func wildcardCommandFilters() -> [String] {
        Self.commandFilters(deviceRoot: device.topic("+"), registryRoot: registry.topic("+"))
    }

    private static func commandFilters(deviceRoot device: String, registryRoot registry: String) -> [String] {
        [device + "/commands", device + "/commands/+", device + "/config", registry + "/commands", registry + "/commands/+"]
    }

    /// What a message on `topic` asks of a device, or nil if it is not one of the command topics.
    /// A point is one level (MQTT 3.1.1 §4.7.1.3: `+` in the filter matches exactly one, maybe empty).
    package func parse(_ topic: String) -> CommandTopic? {
        if let (id, rest) = device.match(topic) {
            if rest == "config" { return .config(device: String(id)) }
            if rest == "commands" { return .deviceBatch(device: String(id)) }
            if let point = Self.point(in: rest) { return .devicePoint(device: String(id), point: point) }
        }
        if let (id, rest) = registry.match(topic) {
            if rest == "commands" { return .registryBatch(registry: String(id)) }
            if let point = Self.point(in: rest) { return .registryPoint(registry: String(id), point: point) }
        }
        return nil
    }

    private static func point(in rest: Substring) -> String? {
        guard rest.hasPrefix("commands/") else { return nil }
        let point = rest.dropFirst("commands/".count)
        return point.contains("/") ? nil : String(point)
    }
}

/// The topics one device publishes on, joined once when its channel opens (not per message).
struct DevicePublishTopics: Sendable {
    let layout: TopicLayout
    let device: String
    /// Every poll cycle's document.
    let events: String
    let state: String
    let ack: String

    init(layout: TopicLayout, device: String) {
        self.layout = layout
        self.device = device
        events = layout.events(device: device)
        state = layout.state(device: device)
        ack = layout.ack(device: device)
    }

    /// `events/<point>`, for points with a subtopic.
    func events(point: String) -> String { layout.events(device: device, point: point) }
}

extension String {
    /// How many times `part` occurs, without overlaps.
    fileprivate func components(of part: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: part) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
