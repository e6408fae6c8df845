import Broker
import MQTT
import TestSupport
import Testing

@Suite("Retained store")
struct RetainedStoreTests {
    private static func topics(_ store: RetainedStore<Int>, _ filter: String) -> [String] {
        store.matches(of: filter).map(\.topic).sorted()
    }

    @Test("Set, replace, clear: count, exact lookup, the message replaced or removed")
    func setReplaceRemove() {
        let store = RetainedStore<Int>()
        #expect(store.set(1, for: "plant/oven1/sp") == nil)
        #expect(store.set(2, for: "plant/oven1/sp") == 1)
        #expect(store.set(3, for: "plant/oven1") == nil)
        #expect(store.count == 2)
        #expect(store["plant/oven1/sp"] == 2 && store["plant/oven1"] == 3 && store["plant"] == nil && store["plant/oven1/sp/x"] == nil)
        #expect(store.remove("plant/oven1/sp") == 2)
        #expect(store.remove("plant/oven1/sp") == nil)
        #expect(store.remove("plant") == nil)
        #expect(store.count == 1 && store["plant/oven1"] == 3)
    }

    @Test("+ takes one level, # the level it follows and all below (4.7.1.2), exact filters one topic")
    func wildcards() {
        let store = RetainedStore<Int>()
        for (index, topic) in ["a", "a/b", "a/b/c", "a/x/c", "b/b", "a/b/c/d"].enumerated() {
            store.set(index, for: topic)
        }
        #expect(Self.topics(store, "a/#") == ["a", "a/b", "a/b/c", "a/b/c/d", "a/x/c"])
        #expect(Self.topics(store, "a/b/#") == ["a/b", "a/b/c", "a/b/c/d"])
        #expect(Self.topics(store, "a/+/c") == ["a/b/c", "a/x/c"])
        #expect(Self.topics(store, "+/b") == ["a/b", "b/b"])
        #expect(Self.topics(store, "+/+/+/#") == ["a/b/c", "a/b/c/d", "a/x/c"])
        #expect(Self.topics(store, "#") == ["a", "a/b", "a/b/c", "a/b/c/d", "a/x/c", "b/b"])
        #expect(Self.topics(store, "a/b") == ["a/b"])
        #expect(Self.topics(store, "a/b/c/d/e").isEmpty && Self.topics(store, "c/#").isEmpty)
    }

    @Test("Filters starting with a wildcard miss $ topics (4.7.2); $ filters and deeper wildcards reach them")
    func systemTopics() {
        let store = RetainedStore<Int>()
        store.set(1, for: "$SYS/broker/uptime")
        store.set(2, for: "$devices/d1/events")
        store.set(3, for: "x/$y")
        #expect(Self.topics(store, "#") == ["x/$y"])
        #expect(Self.topics(store, "+/+/+").isEmpty)
        #expect(Self.topics(store, "+/$y") == ["x/$y"])
        #expect(Self.topics(store, "$SYS/#") == ["$SYS/broker/uptime"])
        #expect(Self.topics(store, "$devices/+/events") == ["$devices/d1/events"])
    }

    @Test("Empty levels are levels: a//b, a leading /, a trailing /")
    func emptyLevels() {
        let store = RetainedStore<Int>()
        store.set(1, for: "a//b")
        store.set(2, for: "/x")
        store.set(3, for: "a/")
        store.set(4, for: "/")
        #expect(Self.topics(store, "a/+/b") == ["a//b"])
        #expect(Self.topics(store, "+/x") == ["/x"])
        #expect(Self.topics(store, "/#") == ["/", "/x"])
        #expect(Self.topics(store, "a/+") == ["a/"])
        #expect(Self.topics(store, "+/+") == ["/", "/x", "a/"])
        #expect(store["a//b"] == 1 && store["a/b"] == nil && store["/"] == 4)
    }

    @Test("A visit that returns false stops the walk; the count says how many were visited")
    func stopsEarly() {
        let store = RetainedStore<Int>()
        for index in 0..<100 { store.set(index, for: "s/\(index)") }
        var seen = 0
        let visited = store.forEachMatch(of: "s/#") { _, _ in
            seen += 1
            return seen < 7
        }
        #expect(seen == 7 && visited == 7)
        #expect(store.forEachMatch(of: "s/+") { _, _ in true } == 100)
    }

    @Test("Churn: setting and clearing 20,000 topics leaves no node behind; forEach sees every message once")
    func pruning() {
        let store = RetainedStore<Int>()
        var generator = SplitMix64(seed: 3)
        var model: [String: Int] = [:]
        for step in 0..<20_000 {
            let topic = "p/\(generator.next() % 50)/d/\(generator.next() % 40)" + (step % 3 == 0 ? "/deep/er" : "")
            if generator.next() % 3 == 0 {
                #expect(store.remove(topic) == model.removeValue(forKey: topic))
            } else {
                #expect(store.set(step, for: topic) == model.updateValue(step, forKey: topic))
            }
        }
        var all: [String: Int] = [:]
        store.forEach { topic, value in
            #expect(all.updateValue(value, forKey: topic) == nil, "\(topic) visited twice")
        }
        #expect(all == model && store.count == model.count)
        #expect(store.nodeCount > 0)
        for topic in model.keys { store.remove(topic) }
        #expect(store.count == 0 && store.nodeCount == 0)
        #expect(store.matches(of: "#").isEmpty)
    }

    @Test("A topic of 60,000 levels: set, matched by #, listed, removed and freed without deep recursion")
    func deepTopic() {
        let deep = String(repeating: "/", count: 59_999)
        var store: RetainedStore<Int>? = RetainedStore<Int>()
        store?.set(1, for: deep)
        store?.set(2, for: deep + "x")
        #expect(store?.matches(of: "#").count == 2)
        #expect(store?.matches(of: deep + "+").map(\.message).sorted() == [1, 2])
        #expect(store?.matches(of: deep + "x").map(\.message) == [2])
        var listed = 0
        store?.forEach { _, _ in listed += 1 }
        #expect(listed == 2)
        #expect(store?.remove(deep) == 1)
        #expect(store?.nodeCount == 60_000)
        store = nil  // deinit walks iteratively; a recursive release of 60,000 nodes would overflow
    }

    @Test("Agrees with the plain matching rule (Topic.matches) on random topics and filters")
    func agreesWithBruteForce() {
        for seed in [1, 2, 3] as [UInt64] {
            var generator = SplitMix64(seed: seed)
            let words = ["a", "b", "c", "", "$sys", "dev", "$"]
            func pick<T>(_ options: [T]) -> T { options[Int(generator.next() % UInt64(options.count))] }
            func topic() -> String {
                let name = (0..<Int(generator.next() % 5 + 1)).map { _ in pick(words) }.joined(separator: "/")
                return name.isEmpty ? "a" : name  // a topic name has at least one character (4.7.3)
            }
            func filter() -> String {
                var levels = (0..<Int(generator.next() % 5 + 1)).map { _ in pick(words + ["+", "+"]) }
                if generator.next() % 3 == 0 { levels.append("#") }
                if generator.next() % 10 == 0 { levels = ["#"] }
                return levels.joined(separator: "/")
            }
            let store = RetainedStore<Int>()
            var model: [String: Int] = [:]
            for step in 0..<600 {
                let name = topic()
                if generator.next() % 4 == 0 {
                    store.remove(name)
                    model[name] = nil
                } else {
                    store.set(step, for: name)
                    model[name] = step
                }
            }
            #expect(store.count == model.count)
            for _ in 0..<600 {
                let text = filter()
                let expected = model.filter { Topic.matches(filter: text, topic: $0.key) }
                var found: [String: Int] = [:]
                store.forEachMatch(of: text) { topic, value in
                    #expect(found.updateValue(value, forKey: topic) == nil, "seed \(seed): '\(topic)' twice for '\(text)'")
                    return true
                }
                #expect(found == expected, "seed \(seed), filter '\(text)'")
            }
        }
    }
}
