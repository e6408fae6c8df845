import GatewayCore
import MQTT
import MQTTClient
import POSIX
import Storage
import Testing
import TestSupport

/// The store-and-forward outbox driven as the upstream loop drives it, without sockets: what it
/// hands out after a reconnect (live first, the backlog behind at a capped rate, in order), what
/// survives a reopen, and what its bounds drop.
@Suite struct UpstreamOutboxTests {
    private let folder = TemporaryFolder()
    private let log = CapturedLog()
    private let syncer: QueueSyncer

    init() throws {
        syncer = try QueueSyncer()
    }

    private func outbox(limits: MessageQueueLimits = MessageQueueLimits(), replayRate: Int = 0, wall: Int64 = 1_000_000) throws -> UpstreamOutbox {
        try UpstreamOutbox(name: "oven-1", directory: folder.path + "/queue", limits: limits, replayRate: replayRate,
                           syncInterval: .milliseconds(100), syncer: syncer, logger: log.logger(),
                           wallMilliseconds: { wall }, onReceive: { _ in })
    }

    private func post(_ outbox: UpstreamOutbox, _ range: ClosedRange<Int>, topic: String = "plant/oven-1/events") {
        for value in range { outbox.post(QueuedPublish(topic: topic, payload: Array("\(value)".utf8), retain: false)) }
    }

    private func values(_ messages: [OutboundMessage]) -> [Int] {
        messages.map { Int(String(decoding: $0.payload, as: UTF8.self)) ?? -1 }
    }

    @Test func liveValuesGoFirstAndTheBacklogFollowsInOrder() throws {
        let outbox = try outbox()
        let start = ContinuousClock.now
        post(outbox, 1...5)
        _ = outbox.service(at: start)                 // down: written to the queue
        #expect(outbox.status.depth == 5)
        outbox.linkUp(sessionPresent: false, at: start)
        post(outbox, 6...7)                            // live, after the link came up
        let first = outbox.nextMessages(limit: 4, at: start)
        #expect(values(first.messages) == [6, 7, 1, 2])
        let second = outbox.nextMessages(limit: 10, at: start)
        #expect(values(second.messages) == [3, 4, 5])
        for message in first.messages + second.messages { outbox.acknowledged(message.token, at: start) }
        _ = outbox.service(at: start)
        #expect(outbox.status.depth == 0)
        #expect(outbox.status.acknowledged == 7)
        outbox.close()
    }

    @Test func aDroppedLinkSendsWhatWasNotAcknowledgedAgainInOrder() throws {
        let outbox = try outbox()
        let start = ContinuousClock.now
        outbox.linkUp(sessionPresent: false, at: start)
        post(outbox, 1...4)
        let sent = outbox.nextMessages(limit: 10, at: start).messages
        #expect(values(sent) == [1, 2, 3, 4])
        outbox.acknowledged(sent[0].token, at: start)
        outbox.acknowledged(sent[2].token, at: start)
        outbox.linkDown(.connectionClosed("cut"), retryAt: start, at: start)
        post(outbox, 5...5)
        _ = outbox.service(at: start)
        outbox.linkUp(sessionPresent: false, at: start)
        #expect(values(outbox.nextMessages(limit: 10, at: start).messages) == [2, 4, 5])
        #expect(outbox.status.resent == 2)
        outbox.close()
    }

    @Test func aBacklogSentBehindLiveValuesIsNotCountedAsResent() throws {
        let outbox = try outbox()
        let start = ContinuousClock.now
        post(outbox, 1...600)                          // down: more than one read-ahead page
        _ = outbox.service(at: start)
        outbox.linkUp(sessionPresent: false, at: start)
        post(outbox, 601...601)                        // live, sent first
        var sent: [OutboundMessage] = []
        while true {
            let batch = outbox.nextMessages(limit: 7, at: start).messages
            if batch.isEmpty { break }
            sent += batch
            if sent.count == 301 { outbox.acknowledged(sent[0].token, at: start) }
        }
        #expect(values(sent) == [601] + Array(1...600))
        #expect(outbox.status.resent == 0)
        // Cut after all of it went out and only the live one was acknowledged: the 600 go again.
        outbox.linkDown(.connectionClosed("cut"), retryAt: start, at: start)
        outbox.linkUp(sessionPresent: false, at: start)
        #expect(values(outbox.nextMessages(limit: 1000, at: start).messages) == Array(1...600))
        #expect(outbox.status.resent == 600)
        outbox.close()
    }

    @Test func theBacklogIsReplayedAtTheCappedRate() throws {
        let outbox = try outbox(replayRate: 10)
        let start = ContinuousClock.now
        post(outbox, 1...30)
        _ = outbox.service(at: start)
        outbox.linkUp(sessionPresent: false, at: start)
        let none = outbox.nextMessages(limit: 64, at: start)
        #expect(none.messages.isEmpty)
        let askAgain = try #require(none.askAgainAt)
        #expect(askAgain > start)
        // Half a second later: five tokens.
        let half = outbox.nextMessages(limit: 64, at: start.advanced(by: .milliseconds(500)))
        #expect(values(half.messages) == [1, 2, 3, 4, 5])
        // A live value is not held back by the cap.
        post(outbox, 31...31)
        #expect(values(outbox.nextMessages(limit: 64, at: start.advanced(by: .milliseconds(500))).messages) == [31])
        // A long pause banks at most one second's worth.
        let later = outbox.nextMessages(limit: 64, at: start.advanced(by: .seconds(60)))
        #expect(values(later.messages) == Array(6...15))
        outbox.close()
    }

    @Test func messagesSurviveAReopenAndKeepTheirOrder() throws {
        do {
            let outbox = try outbox()
            post(outbox, 1...3)
            _ = outbox.service(at: .now)
            // No close: as after a kill -9, only what service() wrote is there.
        }
        let reopened = try outbox()
        #expect(reopened.status.depth == 3)
        reopened.linkUp(sessionPresent: false, at: .now)
        #expect(values(reopened.nextMessages(limit: 10, at: .now).messages) == [1, 2, 3])
        reopened.close()
    }

    @Test func onlyTheNewestRetainedStateOfTheBacklogKeepsItsRetainFlag() throws {
        let outbox = try outbox()
        let start = ContinuousClock.now
        for value in 1...3 {
            outbox.post(QueuedPublish(topic: "plant/oven-1/state", payload: Array("\(value)".utf8), retain: true))
        }
        _ = outbox.service(at: start)
        outbox.linkUp(sessionPresent: false, at: start)
        let replay = outbox.nextMessages(limit: 10, at: start).messages
        #expect(replay.map(\.retain) == [false, false, true])
        outbox.linkDown(.connectionClosed("cut"), retryAt: start, at: start)
        // With a live state sent first, no replayed one may replace it.
        outbox.linkUp(sessionPresent: false, at: start)
        outbox.post(QueuedPublish(topic: "plant/oven-1/state", payload: Array("4".utf8), retain: true))
        let next = outbox.nextMessages(limit: 10, at: start).messages
        #expect(values(next) == [4, 1, 2, 3])
        #expect(next.map(\.retain) == [true, false, false, false])
        outbox.close()
    }

    @Test func aFullQueueDropsTheOldestAndSaysSo() throws {
        let limits = MessageQueueLimits(maximumBytes: 16_384, maximumAge: nil, segmentBytes: 2048)
        let outbox = try outbox(limits: limits)
        let payload = String(repeating: "x", count: 100)
        for value in 1...400 {
            outbox.post(QueuedPublish(topic: "t", payload: Array("\(value) \(payload)".utf8), retain: false))
        }
        _ = outbox.service(at: .now)
        let status = outbox.status
        #expect(status.dropped > 0)
        #expect(status.depth + status.dropped == 400)
        #expect(!log.events("upstream_queue_dropped").isEmpty)
        outbox.linkUp(sessionPresent: false, at: .now)
        let kept = outbox.nextMessages(limit: 1000, at: .now).messages
        let numbers = kept.map { Int(String(decoding: $0.payload, as: UTF8.self).split(separator: " ")[0]) ?? -1 }
        // The newest survive, in order; the oldest went.
        #expect(numbers.last == 400)
        #expect(numbers == Array((401 - numbers.count)...400))
        outbox.close()
    }
}
