import MQTT

/// Durable state: retained messages and persistent sessions go to the write-ahead log as they
/// change; the log is written at the end of every reactor turn (before any acknowledgement
/// leaves) and fsynced every `syncInterval`.
extension BrokerCore {
    /// Compaction starts when the log passes this size and twice its size after the last one.
    private static let compactionThreshold = 8 * 1024 * 1024

    /// Records a change to a session's durable state; clean sessions keep nothing.
    func record(_ change: StoreRecord, for session: Session) {
        guard session.persistent else { return }
        record(change)
    }

    func record(_ change: StoreRecord) {
        guard let storage else { return }
        storage.append(change)
        unsyncedRecords = true
    }

    /// Writes the turn's records; fsyncs when the interval has passed; compacts a big log.
    func flushStorage(now: ContinuousClock.Instant) {
        guard let storage, unsyncedRecords else { return }
        do {
            try storage.flush()
            guard lastSync.duration(to: now) >= configuration.syncInterval else { return }
            lastSync = now
            do {
                try storage.sync()
            } catch {
                // After a failed fsync the kernel may have dropped the pages: only a rewrite of
                // the whole state makes the file trustworthy again.
                statistics.storageErrors += 1
                log(.error, "storage_sync_failed", ["path": storage.path, "error": "\(error)"])
                try storage.compact(to: durableState())
                lastCompactedSize = storage.fileSize
            }
            unsyncedRecords = false
            if storage.fileSize > max(Self.compactionThreshold, 2 * lastCompactedSize) {
                try storage.compact(to: durableState())
                lastCompactedSize = storage.fileSize
            }
        } catch {
            statistics.storageErrors += 1
            log(.error, "storage_failed", ["path": storage.path, "error": "\(error)"])
        }
    }

    /// Loads retained messages and persistent sessions from the folder's log.
    func restore(from directory: String) throws(BrokerError) {
        let (log, state) = try WriteAheadLog.open(directory: directory)
        storage = log
        lastCompactedSize = log.fileSize
        for (topic, stored) in state.retained {
            retained.set(BrokerMessage(topic: topic, payload: stored.payload, qos: stored.qos, retain: true), for: topic)
        }
        for (topic, stored) in state.permanent {
            permanent[topic] = BrokerMessage(topic: topic, payload: stored.payload, qos: stored.qos, retain: false)
        }
        for (clientID, stored) in state.sessions {
            let session = Session(clientID: clientID, persistent: true,
                                  identity: ClientIdentity(clientID: clientID, remoteAddress: "restored"),
                                  // Until its client logs in again the session only receives.
                                  policy: OpenSessionPolicy.shared)
            for (key, qos) in stored.subscriptions {
                let rewrite = FilterRewrite(storageKey: key)
                subscriptions.insert(session.subscriber(presenting: rewrite.presentedPrefix), filter: rewrite.filter, qos: qos)
                session.subscriptions[rewrite] = qos
            }
            // Messages go out in order, so everything before the last PUBREC'd one was sent: those
            // are in flight again (resent first, with DUP). Whether later ones left before the
            // restart is unknown: they are queued, and carry DUP too.
            let all = stored.outgoing
            let lastReleased = all.lastIndex(where: \.released) ?? -1
            for (index, outgoing) in all.enumerated() {
                let message = BrokerMessage(topic: outgoing.message.topic, payload: outgoing.message.payload,
                                            qos: outgoing.message.qos, retain: outgoing.message.retain)
                let stage: OutgoingQueue.Stage = outgoing.released ? .released : index < lastReleased ? .published : .queued
                _ = session.outgoing.enqueue(message, qos: outgoing.message.qos, retain: outgoing.message.retain,
                                             identifier: outgoing.packetIdentifier, stage: stage, duplicate: !outgoing.released)
            }
            session.awaitingRelease = stored.awaitingRelease
            sessions[clientID] = session
        }
        self.log(.info, "storage_loaded", ["directory": directory, "retained": "\(retained.count)", "dropped_bytes": "\(log.droppedBytesAtOpen)",
                                             "sessions": "\(sessions.count)", "bytes": "\(log.fileSize)"])
    }

    /// The durable part of the broker's state, for compaction.
    func durableState() -> DurableState {
        var state = DurableState()
        retained.forEach { topic, message in
            state.retained[topic] = StoredMessage(topic: topic, payload: message.payload, qos: message.qos, retain: true)
        }
        for (topic, message) in permanent {
            state.permanent[topic] = StoredMessage(topic: topic, payload: message.payload, qos: message.qos, retain: false)
        }
        for (clientID, session) in sessions where session.persistent {
            let outgoing = session.outgoing.allInOrder.map { identifier, entry in
                DurableState.Outgoing(packetIdentifier: identifier,
                                      message: StoredMessage(topic: entry.message.topic, payload: entry.message.payload,
                                                             qos: entry.qos, retain: entry.retain),
                                      released: entry.stage == .released)
            }
            var subscriptions: [String: QoS] = [:]
            for (rewrite, qos) in session.subscriptions { subscriptions[rewrite.storageKey] = qos }
            state.sessions[clientID] = DurableState.Session(subscriptions: subscriptions, outgoing: outgoing,
                                                            awaitingRelease: session.awaitingRelease)
        }
        return state
    }
}
