import NIOCore
import Testing

@testable import WebSocketEngine

@Suite struct TokenBucketTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func at(_ milliseconds: Int64) -> NIODeadline { start + .milliseconds(milliseconds) }

    /// (what happens, when in ms after start, expected outcome)
    @Test func takesUpToTheBurst_thenRefillsAtTheRate() {
        var bucket = TokenBucket(RateLimit(perSecond: 2, burst: 3), now: start)
        let steps: [(take: Double, at: Int64, passes: Bool)] = [
            (1, 0, true), (1, 0, true), (1, 0, true),  // the burst
            (1, 0, false),  // empty
            (1, 400, false),  // 0.8 token
            (1, 500, true),  // 1 token after 500 ms at 2/s
            (1, 600, false),
            (2, 10_000, true),  // refilled to the burst, never above it
            (1, 10_000, true),
            (1, 10_000, false),
        ]
        for (index, step) in steps.enumerated() {
            #expect(bucket.take(step.take, now: at(step.at)) == step.passes, "step \(index)")
        }
    }

    @Test func aRefusedTake_takesNothing() {
        var bucket = TokenBucket(RateLimit(perSecond: 1, burst: 2), now: start)
        #expect(bucket.take(1, now: start) == true)
        #expect(bucket.take(2, now: start) == false)
        #expect(bucket.take(1, now: start) == true)
    }

    @Test func theBurstDefaultsToOneSecondsWorth_atLeastOne() {
        #expect(RateLimit(perSecond: 20).burst == 20)
        #expect(RateLimit(perSecond: 2.5).burst == 3)
        #expect(RateLimit(perSecond: 1.0 / 60).burst == 1)
        #expect(RateLimit(perSecond: 5, burst: 0).burst == 1)
    }

    @Test func aRequestLargerThanTheBurst_passesOnAFullBucket_andLeavesADebt() {
        var bucket = TokenBucket(RateLimit(perSecond: 100, burst: 100), now: start)
        #expect(bucket.take(250, now: start) == true)
        #expect(bucket.available(now: start) == -150)
        #expect(bucket.take(1, now: at(1000)) == false)  // -50
        #expect(bucket.take(1, now: at(1510)) == true)  // 1 token
        #expect(bucket.take(250, now: at(1510)) == false)  // not full
        #expect(bucket.take(250, now: at(3000)) == true)  // full again
    }

    @Test func wait_isTheTimeUntilTheNextToken() {
        var bucket = TokenBucket(RateLimit(perSecond: 2, burst: 1), now: start)
        #expect(bucket.wait(now: start) == .zero)
        #expect(bucket.take(now: start) == true)
        #expect(bucket.wait(now: start) == .milliseconds(500))
        #expect(bucket.wait(now: at(200)) == .milliseconds(300))
    }

    @Test func timeGoingBackwards_changesNothing() {
        var bucket = TokenBucket(RateLimit(perSecond: 1, burst: 1), now: at(1000))
        #expect(bucket.take(now: at(1000)) == true)
        #expect(bucket.take(now: at(0)) == false)
        #expect(bucket.take(now: at(2000)) == true)
    }
}

@Suite struct MessageRateLimiterTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func bothBucketsMustHaveRoom_andARefusalTakesFromNeither() {
        let limit = MessageRateLimit(
            messages: RateLimit(perSecond: 10, burst: 3), bytes: RateLimit(perSecond: 100, burst: 100))
        var limiter = MessageRateLimiter(limit, now: start)
        #expect(limiter.admit(size: 60, now: start) == true)
        #expect(limiter.admit(size: 60, now: start) == false)  // bytes: 40 left
        #expect(limiter.admit(size: 40, now: start) == true)  // the refusal took no message token
        #expect(limiter.admit(size: 0, now: start) == true)
        #expect(limiter.admit(size: 0, now: start) == false)  // messages: burst of 3 used
    }

    @Test func onlyMessages_orOnlyBytes() {
        var messages = MessageRateLimiter(MessageRateLimit(messages: RateLimit(perSecond: 1, burst: 1)), now: start)
        #expect(messages.admit(size: 1 << 30, now: start) == true)
        #expect(messages.admit(size: 0, now: start) == false)
        var bytes = MessageRateLimiter(MessageRateLimit(bytes: RateLimit(perSecond: 10, burst: 10)), now: start)
        for _ in 0..<10 { #expect(bytes.admit(size: 1, now: start) == true) }
        #expect(bytes.admit(size: 0, now: start) == true)
        #expect(bytes.admit(size: 1, now: start) == false)
    }
}

@Suite struct ConnectionGateTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func at(_ milliseconds: Int64) -> NIODeadline { start + .milliseconds(milliseconds) }

    @Test func withoutLimits_everythingPasses_andNothingIsTracked() {
        var gate = ConnectionGate(ConnectionLimits(), now: start)
        for index in 0..<1000 {
            #expect(gate.admit(address: "10.0.\(index / 256).\(index % 256)", now: start) == .admit(counted: false))
        }
        #expect(gate.trackedAddresses == 0)
    }

    @Test func connectionsPerAddress_areCapped_andReleasedOnClose() {
        var gate = ConnectionGate(ConnectionLimits(maxConnectionsPerAddress: 2), now: start)
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: true))
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: true))
        #expect(gate.admit(address: "10.0.0.1", now: start) == .tooManyFromAddress(limit: 2))
        #expect(gate.admit(address: "10.0.0.2", now: start) == .admit(counted: true))
        gate.release(address: "10.0.0.1", now: start)
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: true))
        for _ in 0..<2 { gate.release(address: "10.0.0.1", now: start) }
        gate.release(address: "10.0.0.2", now: start)
        #expect(gate.trackedAddresses == 0)
    }

    @Test func newConnectionsPerAddress_areRateLimited_withRetryAfter() {
        var gate = ConnectionGate(
            ConnectionLimits(newConnectionRatePerAddress: RateLimit(perSecond: 1, burst: 2)), now: start)
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: false))
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: false))
        #expect(gate.admit(address: "10.0.0.1", now: at(250)) == .addressRateLimited(retryAfter: .milliseconds(750)))
        #expect(gate.admit(address: "10.0.0.2", now: at(250)) == .admit(counted: false))
        #expect(gate.admit(address: "10.0.0.1", now: at(1000)) == .admit(counted: false))
        // Refilled buckets hold nothing a new entry would not: forgotten on the next touch.
        #expect(gate.admit(address: "10.0.0.3", now: at(10_000)) == .admit(counted: false))
        #expect(gate.trackedAddresses == 3)
    }

    @Test func newConnectionsServerWide_areRateLimited_andAnAddressOverItsOwnLimitTakesNoServerToken() {
        var gate = ConnectionGate(
            ConnectionLimits(
                newConnectionRate: RateLimit(perSecond: 2, burst: 3),
                newConnectionRatePerAddress: RateLimit(perSecond: 1, burst: 1)),
            now: start)
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: false))
        for _ in 0..<5 {
            #expect(gate.admit(address: "10.0.0.1", now: start) == .addressRateLimited(retryAfter: .seconds(1)))
        }
        #expect(gate.admit(address: "10.0.0.2", now: start) == .admit(counted: false))
        #expect(gate.admit(address: "10.0.0.3", now: start) == .admit(counted: false))
        #expect(gate.admit(address: "10.0.0.4", now: start) == .rateLimited(retryAfter: .milliseconds(500)))
        // Refused by the server, so its own token is still there.
        #expect(gate.admit(address: "10.0.0.4", now: at(500)) == .admit(counted: false))
    }

    @Test func withoutAnAddress_onlyTheServerRateApplies() {
        var gate = ConnectionGate(
            ConnectionLimits(maxConnectionsPerAddress: 1, newConnectionRate: RateLimit(perSecond: 1, burst: 2)),
            now: start)
        #expect(gate.admit(address: nil, now: start) == .admit(counted: false))
        #expect(gate.admit(address: nil, now: start) == .admit(counted: false))
        #expect(gate.admit(address: nil, now: start) == .rateLimited(retryAfter: .seconds(1)))
    }

    @Test func theTableIsBounded_andAddressesWithOpenSessionsAreKept() {
        let cap = 100
        var gate = ConnectionGate(
            ConnectionLimits(
                maxConnectionsPerAddress: 5, newConnectionRatePerAddress: RateLimit(perSecond: 0.001, burst: 1),
                maxTrackedAddresses: cap),
            now: start)
        // Ten addresses keep a session open, then many more each connect once and leave.
        for index in 0..<10 { #expect(gate.admit(address: "10.0.0.\(index)", now: start) == .admit(counted: true)) }
        for index in 0..<10_000 {
            let address = "10.1.\(index / 256).\(index % 256)"
            #expect(gate.admit(address: address, now: at(Int64(index))) == .admit(counted: true))
            gate.release(address: address, now: at(Int64(index)))
            #expect(gate.trackedAddresses <= cap + cap / 10 + 10)
        }
        // The most recent address is remembered: its rate bucket is still empty.
        guard case .addressRateLimited = gate.admit(address: "10.1.39.15", now: at(10_000)) else {
            Issue.record("the most recent address was forgotten")
            return
        }
        // The open ones are still counted: each holds one session of its five.
        gate.replaceLimits(ConnectionLimits(maxConnectionsPerAddress: 5, maxTrackedAddresses: cap), now: at(20_000))
        for _ in 0..<4 { #expect(gate.admit(address: "10.0.0.7", now: at(20_000)) == .admit(counted: true)) }
        #expect(gate.admit(address: "10.0.0.7", now: at(20_000)) == .tooManyFromAddress(limit: 5))
    }

    @Test func replacingLimits_keepsOpenSessionsCounted() {
        var gate = ConnectionGate(ConnectionLimits(maxConnectionsPerAddress: 3), now: start)
        for _ in 0..<2 { #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: true)) }
        gate.replaceLimits(ConnectionLimits(maxConnectionsPerAddress: 2), now: start)
        #expect(gate.admit(address: "10.0.0.1", now: start) == .tooManyFromAddress(limit: 2))
        gate.replaceLimits(ConnectionLimits(), now: start)
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: false))
    }
}

@Suite struct EndpointConnectionLimitTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func anEndpointsOwnLimit_countsPerAddressAndEndpoint_andIsReleased() {
        var gate = ConnectionGate(ConnectionLimits(), now: start)
        #expect(gate.admit(address: "10.0.0.1", endpoint: "/a", limit: 1, now: start) == true)
        #expect(gate.admit(address: "10.0.0.1", endpoint: "/a", limit: 1, now: start) == false)
        #expect(gate.admit(address: "10.0.0.1", endpoint: "/b", limit: 1, now: start) == true)
        #expect(gate.admit(address: "10.0.0.2", endpoint: "/a", limit: 1, now: start) == true)
        // The server-wide per-address count is separate.
        gate.replaceLimits(ConnectionLimits(maxConnectionsPerAddress: 1), now: start)
        #expect(gate.admit(address: "10.0.0.1", now: start) == .admit(counted: true))
        gate.release(address: ConnectionGate.endpointKey("/a", "10.0.0.1"), now: start)
        #expect(gate.admit(address: "10.0.0.1", endpoint: "/a", limit: 1, now: start) == true)
        #expect(gate.trackedAddresses == 4)
    }
}
