import Modbus
import Serial
import Synchronization
import TestSupport
import Testing

@Suite("Bus: limits, ordering, inter-frame silence")
struct BusTests {
    @Test("Requests over the protocol limits are refused before anything is sent",
          arguments: [
            (ModbusRequest.readHoldingRegisters(address: 0, count: 126), UInt8(1)),
            (.readInputRegisters(address: 0, count: 0), 1),
            (.readCoils(address: 0, count: 2001), 1),
            (.readDiscreteInputs(address: 65535, count: 2), 1),
            (.writeMultipleRegisters(address: 0, values: [UInt16](repeating: 0, count: 124)), 1),
            (.writeMultipleCoils(address: 0, values: [Bool](repeating: true, count: 1969)), 1),
            (.readWriteMultipleRegisters(readAddress: 0, readCount: 1, writeAddress: 0, values: [UInt16](repeating: 0, count: 122)), 1),
            (.readHoldingRegisters(address: 0, count: 1), 248),
            (.readHoldingRegisters(address: 0, count: 1), 0),
          ])
    func limits(request: ModbusRequest, unit: UInt8) async throws {
        let bench = try RTUBench()
        do {
            _ = try await bench.bus.perform(request, unit: unit)
            Issue.record("\(request.summary) to unit \(unit) was accepted")
        } catch {
            guard case .invalidRequest = error.kind else { Issue.record("unexpected \(error)"); return }
        }
        // Prove the line works, then check that only that one request reached it.
        _ = try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1)
        #expect(bench.simulator.requests.map(\.functionCode) == [3])
        await bench.shutdown()
    }

    @Test("Broadcast is refused on TCP")
    func noBroadcastOnTCP() async throws {
        let bus = try Bus(BusConfiguration(target: .tcp(host: "127.0.0.1", port: 1), initialReopenDelay: .seconds(5)))
        await #expect(throws: ModbusError.self) { _ = try await bus.perform(.writeSingleRegister(address: 0, value: 1), unit: 0) }
        await bus.close()
    }

    @Test("Writes queued behind reads go first")
    func writesFirst() async throws {
        let bench = try RTUBench { $0.responseTimeout = .seconds(90) }
        // Hold the first answer so that the queue fills behind it.
        bench.simulator.inject(.heldAnswer)
        let order = Mutex<[String]>([])
        let done = Mutex(0)
        func submit(_ request: ModbusRequest) {
            bench.bus.submit(request, unit: 1) { _ in
                order.withLock { $0.append(request.summary) }
                done.withLock { $0 += 1 }
            }
        }
        submit(.readHoldingRegisters(address: 0, count: 1))
        #expect(await eventually { bench.simulator.requests.count == 1 })
        submit(.readHoldingRegisters(address: 1, count: 1))
        submit(.readHoldingRegisters(address: 2, count: 1))
        submit(.writeSingleRegister(address: 3, value: 1))
        submit(.writeMultipleCoils(address: 4, values: [true]))
        bench.simulator.releaseHeldAnswers()
        #expect(await eventually { done.withLock { $0 } == 5 })
        #expect(order.withLock { $0 } == ["read holding registers 0+1", "write register 3", "write coils 4+1",
                                          "read holding registers 1+1", "read holding registers 2+1"])
        await bench.shutdown()
    }

    @Test("Frames are separated by at least t3.5 plus the unit's extra delay")
    func silence() async throws {
        let extra = Duration.milliseconds(8)
        let bench = try RTUBench(units: [1, 2]) { configuration in
            configuration.target = .rtu(path: configuration.targetPath, settings: SerialSettings(baudRate: .b9600))
            configuration.extraDelayByUnit = [2: extra]
        }
        let t35 = SerialSettings(baudRate: .b9600).interFrameSilence
        #expect(t35 == .nanoseconds(3_645_833))  // 3.5 × 10 bits at 9600 baud
        for unit: UInt8 in [1, 1, 2, 1] {
            _ = try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: unit)
        }
        let requests = bench.simulator.requests
        for (previous, next) in zip(requests, requests.dropFirst()) {
            let answered = try #require(previous.answeredAt)
            let required = t35 + ((previous.unit == 2 || next.unit == 2) ? extra : .zero)
            #expect(answered.duration(to: next.receivedAt) >= required)
        }
        await bench.shutdown()
    }

    @Test("Closing the bus fails what is still queued and refuses new work")
    func closing() async throws {
        let bench = try RTUBench()
        await bench.bus.close()
        await #expect(throws: ModbusError.self) { _ = try await bench.bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1) }
        bench.simulator.stop()
    }

    @Test("A missing line is reported with its path and retried")
    func missingLine() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/ttyNONE"
        let bus = try Bus(BusConfiguration(target: .rtu(path: path, settings: SerialSettings()), initialReopenDelay: .seconds(5)))
        do {
            _ = try await bus.perform(.readHoldingRegisters(address: 0, count: 1), unit: 1)
            Issue.record("read on a missing line succeeded")
        } catch {
            #expect(error.isLinkFailure)
            #expect(error.description.contains(path))
            #expect(error.description.contains("ENOENT"))
        }
        await bus.close()
    }
}

extension BusConfiguration {
    var targetPath: String {
        if case let .rtu(path, _) = target { return path }
        return ""
    }
}
