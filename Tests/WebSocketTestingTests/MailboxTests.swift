import Synchronization
import Testing
import WebSocketTesting

/// The bounded ``Mailbox/put(_:)`` a task-driven producer uses (a `--url` conversation's reader): it waits
/// while the mailbox is full, keeps the order, and lets go when the mailbox is finished.
@Suite struct MailboxTests {
    @Test func aPutPastTheCapacity_waitsForATake_andTheOrderIsKept() async throws {
        let mailbox = Mailbox<Int>(capacity: 2)
        #expect(await mailbox.put(1))
        #expect(await mailbox.put(2))
        let returned = Atomic<Bool>(false)
        let third = Task {
            let stored = await mailbox.put(3)
            returned.store(true, ordering: .sequentiallyConsistent)
            return stored
        }
        // Full: the third value waits (nothing lets it in but a take).
        try await Task.sleep(for: .milliseconds(100))
        let returnedYet = returned.load(ordering: .sequentiallyConsistent)
        #expect(!returnedYet)
        #expect(await mailbox.next(timeout: .seconds(1)) == 1)
        #expect(await third.value)
        #expect(await mailbox.next(timeout: .seconds(1)) == 2)
        #expect(await mailbox.next(timeout: .seconds(1)) == 3)
        #expect(await mailbox.next(timeout: .milliseconds(50)) == nil)
    }

    @Test func finishing_releasesABlockedPut_andLaterPutsAreDropped() async throws {
        let mailbox = Mailbox<Int>(capacity: 1)
        #expect(await mailbox.put(1))
        let blocked = Task { await mailbox.put(2) }
        try await Task.sleep(for: .milliseconds(50))
        mailbox.finish()
        #expect(await blocked.value == false)
        #expect(await mailbox.put(3) == false)
        // What was queued before the finish can still be taken; then the mailbox is done.
        #expect(await mailbox.next(timeout: .seconds(1)) == 1)
        #expect(await mailbox.next(timeout: .seconds(1)) == nil)
        #expect(mailbox.isFinished)
    }

    @Test func aPut_goesStraightToAWaitingTake() async throws {
        let mailbox = Mailbox<String>(capacity: 1)
        let taker = Task { await mailbox.next(timeout: .seconds(5)) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await mailbox.put("hello"))
        #expect(await taker.value == "hello")
        // The hand-over used no room: the mailbox still takes one value without waiting.
        #expect(await mailbox.put("again"))
        #expect(await mailbox.next(timeout: .seconds(1)) == "again")
    }
}
