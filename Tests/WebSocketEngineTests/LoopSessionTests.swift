import NIOCore
import Synchronization
import Testing
import WebSocketEngine
import WebSocketTesting

/// What a loop-driven route saw.
final class LoopRecord: Sendable {
    private let state = Mutex<(messages: Int, closes: [CloseReason], incomingWasEmpty: Bool?)>((0, [], nil))
    func message() { state.withLock { $0.messages += 1 } }
    func closed(_ reason: CloseReason) { state.withLock { $0.closes.append(reason) } }
    func incoming(empty: Bool) { state.withLock { $0.incomingWasEmpty = empty } }
    var messages: Int { state.withLock { $0.messages } }
    var closes: [CloseReason] { state.withLock { $0.closes } }
    var incomingWasEmpty: Bool? { state.withLock { $0.incomingWasEmpty } }
}

/// Waits until `condition` holds, checking every 20 ms, at most 10 s.
private func within(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// An echo served by callbacks on the loop, recording what it saw.
func loopEchoRouter(_ record: LoopRecord, options: WebSocketOptions = WebSocketOptions(pingPeriod: .zero)) throws
    -> WebSocketRouter
{
    var router = WebSocketRouter()
    try router.webSocket("/loop", options: options) { session in
        _ = session.sendOnLoop(.text("welcome"))
        Task {
            // `incoming` of a loop-driven session ends at once: its messages go to the callbacks.
            var iterator = session.incoming.makeAsyncIterator()
            record.incoming(empty: await iterator.next() == nil)
        }
        return WebSocketLoopCallbacks(
            onMessage: { frame in
                record.message()
                if frame.readText() == "bye" {
                    session.closeOnLoop(CloseReason(.goingAway, "bye"))
                } else {
                    _ = session.sendOnLoop(frame)
                }
            },
            onClose: { reason in record.closed(reason) }
        )
    }
    return router
}

@Suite struct LoopSessionTests {
    @Test func messagesAreAnsweredOnTheLoop_andTheEndIsToldOnce() async throws {
        let record = LoopRecord()
        try await withTestServer(try loopEchoRouter(record)) { server in
            let client = try await server.connect("/loop")
            #expect(try await client.receive().readText() == "welcome")
            for index in 0..<100 { try await client.send("m\(index)") }
            for index in 0..<100 { #expect(try await client.receive().readText() == "m\(index)") }
            try await client.send(.binary(ByteBuffer(bytes: [1, 2, 3])))
            #expect(try await client.receive() == .binary(ByteBuffer(bytes: [1, 2, 3])))
            try await client.send(.close(CloseReason(.normal, "done")))
            #expect(try await receiveClose(client)?.code == .normal)
            #expect(await client.waitForDisconnect())
            #expect(try await within { record.closes.count == 1 })
            #expect(record.closes.first?.code == .normal)
            #expect(record.messages == 101)
            // Set by a task that may run after the close (it ends at once, but nothing orders it).
            #expect(try await within { record.incomingWasEmpty != nil })
            #expect(record.incomingWasEmpty == true)
        }
    }

    @Test func closeOnLoop_closesWithItsReason_andAPeerThatVanishesIsToldToo() async throws {
        let record = LoopRecord()
        try await withTestServer(try loopEchoRouter(record)) { server in
            let polite = try await server.connect("/loop")
            _ = try await polite.receive()
            try await polite.send("bye")
            let reason = try await receiveClose(polite)
            #expect(reason == CloseReason(.goingAway, "bye"))
            #expect(await polite.waitForDisconnect())

            let rude = try await server.connect("/loop")
            _ = try await rude.receive()
            await rude.disconnect()
            #expect(try await within { record.closes.count == 2 })
            #expect(record.closes.map(\.code).contains(.abnormalClosure))
            #expect(try await within { server.server.openSessions == 0 })
        }
    }

    @Test func aPeerThatDoesNotReadItsAnswers_isNoLongerRead_untilItReadsAgain() async throws {
        let record = LoopRecord()
        let options = WebSocketOptions(pingPeriod: .zero, maxQueuedBytes: 64 * 1024)
        try await withTestServer(try loopEchoRouter(record, options: options)) { server in
            let client = try await server.connect("/loop")
            _ = try await client.receive()
            try await client.pauseReading()
            // 32 MiB in 16 KiB messages: far more than the kernel's buffers both ways hold, so a server that
            // kept reading while its answers pile up would take them all.
            let count = 2048
            let payload = [UInt8](repeating: 7, count: 16 * 1024)
            let sending = Task {
                for _ in 0..<count {
                    try await client.sendFrame(opcode: 0x2, payload: payload)
                }
            }
            try await Task.sleep(for: .seconds(2))
            let readWhilePaused = record.messages
            #expect(readWhilePaused < count / 2)
            try await client.resumeReading()
            var echoed = 0
            while echoed < count {
                if case .binary = try await client.receive(timeout: .seconds(20)) { echoed += 1 }
            }
            try await sending.value
            #expect(record.messages == count)
        }
    }

    @Test(arguments: [true, false])
    func requestHeaders_areKeptUnlessTheRouteSaysNot_andAdmissionAlwaysSeesThem(keeps: Bool) async throws {
        let seen = Mutex<(admission: String?, session: String?, sessionFields: Int)>((nil, nil, -1))
        var router = WebSocketRouter()
        try router.webSocket(
            "/h",
            options: WebSocketOptions(pingPeriod: .zero),
            admission: { request in
                seen.withLock { $0.admission = request.header("X-Team") }
                return .accept
            },
            keepsRequestHeaders: keeps
        ) { session in
            seen.withLock {
                $0.session = session.request.header("X-Team")
                $0.sessionFields = session.request.headers.count
            }
            _ = session.sendOnLoop(.text("\(session.request.path)?\(session.request.query)"))
            return WebSocketLoopCallbacks(onMessage: { frame in _ = session.sendOnLoop(frame) })
        }
        try await withTestServer(router) { server in
            let client = try await server.connect("/h?room=a", headers: [("X-Team", "blue")])
            // Path and query stay either way.
            #expect(try await client.receive().readText() == "/h?room=a")
            try await client.send("ping")
            #expect(try await client.receive().readText() == "ping")
            let result = seen.withLock { $0 }
            #expect(result.admission == "blue")
            if keeps {
                #expect(result.session == "blue")
                #expect(result.sessionFields > 4)
            } else {
                #expect(result.session == nil)
                #expect(result.sessionFields == 0)
            }
        }
    }
}
