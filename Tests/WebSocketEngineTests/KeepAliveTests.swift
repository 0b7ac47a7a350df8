import NIOCore
import Testing

@testable import WebSocketEngine

@Suite struct KeepAliveTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func pingPayload(_ action: KeepAlive.Action) -> ByteBuffer? {
        if case .sendPing(let payload) = action { return payload }
        return nil
    }

    @Test func pingIsSentEveryPeriod_andAPongKeepsTheConnection() {
        var keepAlive = KeepAlive(pingPeriod: .seconds(15), timeout: .seconds(10), now: start)
        #expect(keepAlive.nextDeadline == start + .seconds(15))
        #expect(keepAlive.tick(now: start + .seconds(14)) == .none)
        let ping = pingPayload(keepAlive.tick(now: start + .seconds(15)))
        #expect(ping != nil)
        keepAlive.receivedPong(ping ?? ByteBuffer())
        #expect(keepAlive.tick(now: start + .seconds(26)) == .none)
        #expect(pingPayload(keepAlive.tick(now: start + .seconds(30))) != nil)
    }

    @Test func noPongWithinTheTimeout_closes() {
        var keepAlive = KeepAlive(pingPeriod: .seconds(15), timeout: .seconds(10), now: start)
        _ = keepAlive.tick(now: start + .seconds(15))
        #expect(keepAlive.nextDeadline == start + .seconds(25))
        #expect(keepAlive.tick(now: start + .seconds(24)) == .none)
        #expect(keepAlive.tick(now: start + .seconds(25)) == .closeForPongTimeout)
    }

    @Test func unsolicitedOrWrongPong_doesNotCount() {
        var keepAlive = KeepAlive(pingPeriod: .seconds(1), timeout: .seconds(5), now: start)
        _ = keepAlive.tick(now: start + .seconds(1))
        keepAlive.receivedPong(ByteBuffer(string: "hello"))
        var other = ByteBuffer()
        other.writeInteger(UInt64(99))
        keepAlive.receivedPong(other)
        #expect(keepAlive.tick(now: start + .seconds(6)) == .closeForPongTimeout)
    }

    @Test func pongToTheLatestPing_answersEarlierOnesToo() {
        var keepAlive = KeepAlive(pingPeriod: .seconds(1), timeout: .seconds(5), now: start)
        _ = keepAlive.tick(now: start + .seconds(1))
        _ = keepAlive.tick(now: start + .seconds(2))
        let latest = pingPayload(keepAlive.tick(now: start + .seconds(3)))
        keepAlive.receivedPong(latest ?? ByteBuffer())
        #expect(keepAlive.tick(now: start + .seconds(6)) != .closeForPongTimeout)
    }

    @Test func zeroPingPeriod_disablesPings() {
        var keepAlive = KeepAlive(pingPeriod: .zero, timeout: .seconds(15), now: start)
        #expect(keepAlive.nextDeadline == nil)
        #expect(keepAlive.tick(now: start + .hours(10)) == .none)
    }

    @Test func idleTimeout_closesWithoutMessages_andResetsOnOne() {
        var keepAlive = KeepAlive(pingPeriod: .zero, timeout: .seconds(15), idleTimeout: .seconds(60), now: start)
        keepAlive.receivedMessage(now: start + .seconds(50))
        #expect(keepAlive.tick(now: start + .seconds(100)) == .none)
        #expect(keepAlive.nextDeadline == start + .seconds(110))
        #expect(keepAlive.tick(now: start + .seconds(110)) == .closeForIdleTimeout)
    }
}
