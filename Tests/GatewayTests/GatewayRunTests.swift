import Foundation
import Glibc
import Modbus
import MQTT
import Testing
import TestSupport

/// `modbridge run` end to end: a simulated controller on a pty, the gateway process, and an MQTT
/// client over a socket on the gateway's embedded broker.
@Suite("modbridge run: telemetry out, commands in, over a pty and the embedded broker", .serialized)
struct GatewayRunTests {
    @Test("Telemetry equals the simulator's registers after decoding; a sentinel is published as an error")
    func telemetry() async throws {
        let gateway = try GatewayFixture(start: false)
        let controller = try gateway.controller()
        GatewayFixture.setKnownValues(on: controller)
        try gateway.startGateway()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/events", "$devices/oven-1/state"])
        // The retained state holds every point once each group has been read once.
        let state = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/state") {
            ($0["online"] as? Bool) == true && ($0["values"] as? [String: Any])?.count == 5
        }
        let values = try #require(state?["values"] as? [String: Any])
        #expect(values["set_point"] as? Double == 72.5)
        #expect(values["mode"] as? String == "heat")
        #expect(values["temperature"] as? Double == 65.3)
        #expect(values["flow"] as? Double == 123.456)
        #expect(values["alarm"] as? Bool == true)
        #expect((state?["units"] as? [String: Any])?["temperature"] as? String == "°C")

        controller.setRegisters(.inputRegisters, address: 0, [0x8003])
        let error = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events") { $0["temperature"] is [String: Any] }
        #expect((error?["temperature"] as? [String: Any])?["error"] as? String == "sensor open")
        #expect(error?["ts"] is String)
        controller.setRegisters(.inputRegisters, address: 0, [0xFF38])
        let negative = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events") { $0["temperature"] as? Double == -20 }
        #expect(negative != nil)
        await client.close()
    }

    @Test("A cycle's points from the holding, input and discrete tables come in one events document")
    func oneDocumentPerCycle() async throws {
        let gateway = try GatewayFixture()
        let controller = try gateway.controller()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/events"])
        // A change that lands between two reads of one cycle is split over two cycles, so a few
        // tries: with one document per poll group instead, none would ever hold all three.
        var together = false
        for attempt in 1...5 where !together {
            let skip = inbox.messages.count
            let alarm = attempt % 2 == 1
            controller.setRegisters(.holdingRegisters, address: 0, [UInt16(100 + attempt)])
            controller.setRegisters(.inputRegisters, address: 0, [UInt16(200 + attempt)])
            controller.setBits(.discreteInputs, address: 1, [alarm])
            let setPoint = Double(100 + attempt) / 10, temperature = Double(200 + attempt) / 10
            // Wait until each of the three has been published, then look for one document with all.
            for check in [{ (doc: [String: Any]) in doc["set_point"] as? Double == setPoint },
                          { (doc: [String: Any]) in doc["temperature"] as? Double == temperature },
                          { (doc: [String: Any]) in doc["alarm"] as? Bool == alarm }] {
                #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events", after: skip, where: check) != nil)
            }
            together = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events", after: skip, within: 1) { doc in
                doc["set_point"] as? Double == setPoint && doc["temperature"] as? Double == temperature && doc["alarm"] as? Bool == alarm
            } != nil
        }
        #expect(together)
        await client.close()
    }

    @Test("A command writes the register and is acknowledged; a batch of adjacent registers is one FC16")
    func commands() async throws {
        let gateway = try GatewayFixture()
        let controller = try gateway.controller()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/events/ack", "$devices/oven-1/events"])
        try await client.publish(topic: "$devices/oven-1/commands/set_point", payload: Array(#"{"value": 72.5, "id": "c1"}"#.utf8), qos: .atLeastOnce)
        let ack = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events/ack") { $0["id"] as? String == "c1" }
        #expect(ack?["ok"] as? Bool == true)
        #expect((ack?["written"] as? [String: Any])?["set_point"] as? Double == 72.5)
        #expect(controller.registers(.holdingRegisters, address: 0, count: 1) == [725])
        #expect(gateway.writes.last.map { [$0.function, UInt8($0.address), UInt8($0.count)] } == [6, 0, 1])
        // The new value is published by the next poll.
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events") { $0["set_point"] as? Double == 72.5 } != nil)

        try await client.publish(topic: "$devices/oven-1/commands", payload: Array(#"{"id": 2, "set_point": 50, "mode": "cool"}"#.utf8), qos: .atLeastOnce)
        let batch = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events/ack") { $0["id"] as? Int == 2 }
        #expect(batch?["ok"] as? Bool == true)
        #expect(controller.registers(.holdingRegisters, address: 0, count: 2) == [500, 2])
        #expect(gateway.writes.last.map { [$0.function, UInt8($0.address), UInt8($0.count)] } == [16, 0, 2])

        // A registry-wide command reaches the device too; a bare (non-JSON) label works.
        try await client.publish(topic: "$registries/plant/commands/mode", payload: Array("heat".utf8), qos: .atLeastOnce)
        #expect(await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events/ack") { ($0["written"] as? [String: Any])?["mode"] as? String == "heat" } != nil)
        #expect(controller.registers(.holdingRegisters, address: 1, count: 1) == [1])
        await client.close()
    }

    @Test("Bad commands are refused with a reason and nothing is written")
    func refusals() async throws {
        let gateway = try GatewayFixture()
        let controller = try gateway.controller()
        controller.setRegisters(.holdingRegisters, address: 0, [300])
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/events/ack"])
        let cases: [(String, String, String)] = [
            ("commands/heater", "1", "unknown point \"heater\"; writable: set_point, mode, far_away"),
            ("commands/temperature", "20", "temperature is read-only"),
            ("commands/set_point", "170.5", "set_point: 170.5 is above the maximum 170"),
            ("commands/set_point", #"{"value": "hot"}"#, "set_point takes a number; found \"hot\""),
            ("commands/mode", "\"warm\"", "mode has no label \"warm\"; expected one of off, heat, cool"),
            ("commands", #"{"set_point": 20, "mode": "warm"}"#, "mode has no label \"warm\"; expected one of off, heat, cool"),
            // Meant as JSON, broken: refused with where and why, not written as the text.
            ("commands/set_point", #"{"value": 20,}"#, "not valid JSON: line 1 column 14: expected a key in double quotes after ',', found '}' (JSON allows no comma before '}')"),
            ("commands", #"{"set_point": 20, "set_point": 30}"#, "not valid JSON: $.set_point: duplicate key (line 1 column 19), first at line 1 column 2"),
        ]
        for (index, (subtopic, payload, reason)) in cases.enumerated() {
            try await client.publish(topic: "$devices/oven-1/\(subtopic)", payload: Array(payload.utf8), qos: .atLeastOnce)
            let acks = await inbox.wait(for: index + 1)
            let ack = acks.count > index ? GatewayFixture.json(acks[index].payload) : nil
            #expect(ack?["ok"] as? Bool == false, "\(subtopic) \(payload)")
            #expect(ack?["error"] as? String == reason, "\(subtopic) \(payload)")
        }
        #expect(gateway.writes.isEmpty)
        #expect(controller.registers(.holdingRegisters, address: 0, count: 2) == [300, 0])
        await client.close()
    }

    @Test("A Modbus exception from the device reaches the ack with its code and name")
    func exceptionInAck() async throws {
        let gateway = try GatewayFixture()
        let (client, inbox) = try await gateway.subscriber(["$devices/oven-1/events/ack"])
        // The simulator has 10,000 registers: address 20000 is refused with exception 02.
        try await client.publish(topic: "$devices/oven-1/commands/far_away", payload: Array(#"{"value": 1, "id": "x"}"#.utf8), qos: .atLeastOnce)
        let ack = await GatewayFixture.message(in: inbox, on: "$devices/oven-1/events/ack") { $0["id"] as? String == "x" }
        #expect(ack?["ok"] as? Bool == false)
        #expect(ack?["error"] as? String == "exception 02 (illegal data address)")
        let exception = ack?["exception"] as? [String: Any]
        #expect(exception?["code"] as? Int == 2)
        #expect(exception?["name"] as? String == "illegal data address")
        #expect(gateway.writes.map(\.address) == [20000])
        await client.close()
    }
}
