import Broker
import MQTT
import TestSupport
import Testing

@Suite("Subscription tree")
struct SubscriptionTreeTests {
    @Test("Overlapping subscriptions: each subscriber once, at its highest QoS")
    func overlapping() {
        let tree = SubscriptionTree<String>()
        tree.insert("a", filter: "plant/#", qos: .atMostOnce)
        tree.insert("a", filter: "plant/+/temperature", qos: .exactlyOnce)
        tree.insert("b", filter: "plant/oven1/temperature", qos: .atLeastOnce)
        tree.insert("c", filter: "plant/oven2/#", qos: .atLeastOnce)
        #expect(tree.subscribers(of: "plant/oven1/temperature") == ["a": .exactlyOnce, "b": .atLeastOnce])
        #expect(tree.subscribers(of: "plant/oven2") == ["a": .atMostOnce, "c": .atLeastOnce])
        #expect(tree.count == 4)
    }

    @Test("$ topics are not matched by filters that start with a wildcard")
    func systemTopics() {
        let tree = SubscriptionTree<Int>()
        tree.insert(1, filter: "#", qos: .atMostOnce)
        tree.insert(2, filter: "+/oven1/events", qos: .atMostOnce)
        tree.insert(3, filter: "$devices/+/events", qos: .atLeastOnce)
        #expect(tree.subscribers(of: "$devices/oven1/events") == [3: .atLeastOnce])
        #expect(tree.subscribers(of: "x/oven1/events") == [1: .atMostOnce, 2: .atMostOnce])
    }

    @Test("Filters of 65,535 levels (the longest a filter can be): matched and freed without deep recursion")
    func deepFilters() {
        // 65,534 slashes + "#" is a 65,535-byte filter of 65,535 levels; a recursive walk or release
        // that deep overflows a thread's stack (it crashed the broker's reactor).
        let slashes = String(repeating: "/", count: 65_534)
        var tree: SubscriptionTree<Int>? = SubscriptionTree<Int>()
        tree?.insert(1, filter: slashes + "#", qos: .atLeastOnce)
        tree?.insert(2, filter: slashes + "+", qos: .atMostOnce)
        tree?.insert(3, filter: "#", qos: .atMostOnce)
        #expect(tree?.subscribers(of: slashes + "x") == [1: .atLeastOnce, 2: .atMostOnce, 3: .atMostOnce])
        #expect(tree?.subscribers(of: slashes + "x/y") == [1: .atLeastOnce, 3: .atMostOnce])
        #expect(tree?.subscribers(of: "x") == [3: .atMostOnce])
        tree = nil
    }

    @Test("Remove prunes, and re-subscribing replaces the QoS")
    func removal() {
        let tree = SubscriptionTree<Int>()
        #expect(tree.insert(1, filter: "a/b", qos: .atMostOnce))
        #expect(!tree.insert(1, filter: "a/b", qos: .exactlyOnce))
        #expect(tree.subscribers(of: "a/b") == [1: .exactlyOnce])
        #expect(tree.remove(1, filter: "a/b"))
        #expect(!tree.remove(1, filter: "a/b"))
        #expect(tree.subscribers(of: "a/b").isEmpty)
        #expect(tree.count == 0)
    }

    @Test("Agrees with the plain matching rule on thousands of random filters and topics")
    func agreesWithBruteForce() throws {
        var generator = SplitMix64(seed: 7)
        let words = ["a", "b", "c", "", "$sys", "dev"]
        func pick<T>(_ options: [T]) -> T { options[Int(generator.next() % UInt64(options.count))] }
        func topic() -> String {
            (0..<Int(generator.next() % 4 + 1)).map { _ in pick(words) }.joined(separator: "/")
        }
        func filter() -> String {
            var levels = (0..<Int(generator.next() % 4 + 1)).map { _ in pick(words + ["+", "+"]) }
            if generator.next() % 3 == 0 { levels.append("#") }
            return levels.joined(separator: "/")
        }
        let tree = SubscriptionTree<Int>()
        var filters: [(Int, String, QoS)] = []
        for subscriber in 0..<400 {
            let text = filter()
            let qos = QoS(rawValue: UInt8(generator.next() % 3))!
            if tree.insert(subscriber % 50, filter: text, qos: qos) {
                filters.append((subscriber % 50, text, qos))
            } else {
                filters.removeAll { $0.0 == subscriber % 50 && $0.1 == text }
                filters.append((subscriber % 50, text, qos))
            }
        }
        for _ in 0..<2000 {
            let name = topic()
            var expected: [Int: QoS] = [:]
            for (subscriber, text, qos) in filters where Topic.matches(filter: text, topic: name) {
                expected[subscriber] = max(expected[subscriber] ?? .atMostOnce, qos)
            }
            #expect(tree.subscribers(of: name) == expected, "topic '\(name)'")
        }
    }
}
