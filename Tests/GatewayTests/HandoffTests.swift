import Testing

@testable import Gateway

@Suite struct HandoffTests {
    @Test func sendWhileClosed_returnsAtOnce_notTaken() async {
        let handoff = Handoff<Int>()
        #expect(await handoff.send(1, from: 7) == .closed)
    }

    @Test func openHandoff_passesValues_inOrder() async {
        let handoff = Handoff<Int>()
        await handoff.open()
        let consumer = Task { [await handoff.next(), await handoff.next()] }
        #expect(await handoff.send(1, from: 1) == .taken)
        #expect(await handoff.send(2, from: 2) == .taken)
        #expect(await consumer.value == [1, 2])
    }

    @Test func closing_endsWaitingSends_withClosed() async throws {
        let handoff = Handoff<Int>()
        await handoff.open()
        let waiting = Task { await handoff.send(1, from: 1) }
        try await waitUntil { await handoff.waiting == 1 }
        await handoff.close()
        #expect(await waiting.value == .closed)
        #expect(await handoff.send(2, from: 1) == .closed)
    }

    @Test func withdraw_endsOnlyThatProducersSend() async throws {
        let handoff = Handoff<Int>()
        await handoff.open()
        let mine = Task { await handoff.send(1, from: 1) }
        let theirs = Task { await handoff.send(2, from: 2) }
        try await waitUntil { await handoff.waiting == 2 }
        await handoff.withdraw(1)
        #expect(await mine.value == .withdrawn)
        #expect(await handoff.next() == 2)
        #expect(await theirs.value == .taken)
    }

    @Test func cancelledConsumer_getsNil() async {
        let handoff = Handoff<Int>()
        await handoff.open()
        let consumer = Task { await handoff.next() }
        consumer.cancel()
        #expect(await consumer.value == nil)
    }

    /// Polls `condition` (every 10 ms, at most 5 s): the actor's queue is filled by other tasks.
    private func waitUntil(_ condition: () async -> Bool) async throws {
        for _ in 0..<500 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("condition not met within 5 s")
    }
}
