import NIOCore
import RedisClient
import RedisTesting
import Testing

@testable import Broker

@Suite struct InstanceRequestWireTests {
    @Test func requestsAndAnswers_readBackWhatWasWritten() throws {
        let payload = Array(#"{"op":"rooms"}"#.utf8) + [0, 10, 255]
        let request = InstanceRequests.request(id: 0xdead_beef, replyTo: "p:reply:1f", payload)
        let parsed = try #require(InstanceRequests.parseRequest(ByteBuffer(bytes: request)))
        #expect(parsed.id == 0xdead_beef && parsed.replyTo == "p:reply:1f" && parsed.payload == payload)
        let answer = InstanceRequests.answer(id: .max, payload)
        let read = try #require(InstanceRequests.parseAnswer(ByteBuffer(bytes: answer)))
        #expect(read.id == .max && read.payload == payload)
    }

    @Test func malformedMessages_areIgnored() {
        for bytes in ["", "no newline", "zz p:reply:1\n{}", "12\n", "\n{}", "12 \n{}"].map({ Array($0.utf8) }) {
            #expect(InstanceRequests.parseRequest(ByteBuffer(bytes: bytes)) == nil)
        }
        #expect(InstanceRequests.parseAnswer(ByteBuffer(bytes: Array("nothex\n{}".utf8))) == nil)
        #expect(InstanceRequests.parseAnswer(ByteBuffer(bytes: [0xFF, 0xFE, 10])) == nil)
    }
}

@Suite(.serialized) struct InstanceRequestsTests {
    @Test func everyInstanceAnswers_theAskerIncluded() async throws {
        try await withRedisServer { server in
            let brokers = [
                try await startBroker(server, Deliveries()), try await startBroker(server, Deliveries()),
                try await startBroker(server, Deliveries()),
            ]
            for (index, broker) in brokers.enumerated() {
                broker.answerRequests { request in Array("\(index):".utf8) + request }
            }
            let result = try await brokers[1].ask(Array("count".utf8))
            #expect(result.asked == 3 && result.unanswered == 0)
            #expect(
                Set(result.answers.map { String(decoding: $0, as: UTF8.self) }) == ["0:count", "1:count", "2:count"])
            for broker in brokers { await broker.close() }
        }
    }

    @Test func anInstanceThatDoesNotAnswer_isWaitedForUntilTheTimeout() async throws {
        try await withRedisServer { server in
            let asker = try await startBroker(server, Deliveries())
            asker.answerRequests { _ in Array("here".utf8) }
            // Receives the request (so Redis counts it) but never answers: a stopped instance.
            let silent = try await RedisSubscriber.connect(to: try server.configuration())
            try await silent.subscribe(to: ["test:control"])
            let started = ContinuousClock.now
            let result = try await asker.ask(Array("count".utf8), timeout: .milliseconds(300))
            #expect(ContinuousClock.now - started >= .milliseconds(300))
            #expect(result.asked == 2 && result.answers == [Array("here".utf8)] && result.unanswered == 1)
            await silent.close()
            await asker.close()
        }
    }

    @Test func withRedisGone_askThrows() async throws {
        var asker: RedisRoomBroker?
        try await withRedisServer { server in
            asker = try await startBroker(server, Deliveries())
        }
        let broker = try #require(asker)
        await #expect(throws: (any Error).self) { try await broker.ask(Array("count".utf8)) }
        await broker.close()
    }
}
