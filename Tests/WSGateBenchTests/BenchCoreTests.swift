import NIOCore
import Testing
import WebSocketEngine

@testable import WSGateBench

@Suite struct BenchPlanTests {
    @Test(arguments: [
        ("ws://127.0.0.1:8080/echo", "127.0.0.1", 8080, "/echo"),
        ("ws://localhost/chat/a?x=1", "localhost", 80, "/chat/a?x=1"),
        ("ws://[::1]:9000", "::1", 9000, "/"),
        ("ws://host:81?q", "host", 81, "/?q"),
        ("wss://127.0.0.1/echo", "127.0.0.1", 443, "/echo"),
    ])
    func url_parsesHostPortAndTarget(text: String, host: String, port: Int, target: String) throws {
        let url = try #require(BenchURL(text))
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.target == target)
        #expect(url.secure == text.hasPrefix("wss://"))
    }

    @Test(arguments: ["http://x/", "https://x/", "ws://:80/", "ws://host:0/", "ws://host:x/"])
    func url_refusesWhatTheClientCannotDial(text: String) {
        #expect(BenchURL(text) == nil)
    }

    @Test func url_hostHeaderOmitsPort80_andBracketsIPv6() throws {
        #expect(try #require(BenchURL("ws://example.com/")).hostHeader == "example.com")
        #expect(try #require(BenchURL("ws://[::1]:8080/")).hostHeader == "[::1]:8080")
    }

    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("15s", .seconds(15)), ("2m", .seconds(120)),
        ("1.5", .milliseconds(1500)), ("1h", .seconds(3600)),
    ])
    func duration_parsesConfigStyleUnits(text: String, expected: Duration) {
        #expect(BenchPlan.parseDuration(text) == expected)
    }

    @Test(arguments: ["", "ten", "-1s", "5 s"])
    func duration_refusesNonsense(text: String) {
        #expect(BenchPlan.parseDuration(text) == nil)
    }

    @Test func plan_defaultsDependOnMode() throws {
        let url = try #require(BenchURL("ws://127.0.0.1:1/"))
        #expect(BenchPlan(mode: .echo, url: url).connections == 16)
        #expect(BenchPlan(mode: .broadcast, url: url).connections == 1000)
        #expect(BenchPlan(mode: .broadcast, url: url).messages == 2000)
        #expect(BenchPlan(mode: .connect, url: url).connections == 8)
        for mode in BenchMode.allCases { #expect(BenchPlan(mode: mode, url: url).problems.isEmpty) }
    }

    @Test func plan_spreadsConnectionsOverTheURLs_thePublisherOnTheFirst() throws {
        var plan = BenchPlan(mode: .broadcast, url: try #require(BenchURL("ws://127.0.0.1:1/a")))
        #expect((0..<3).map { plan.url(for: $0).port } == [1, 1, 1])
        plan.also = [try #require(BenchURL("ws://127.0.0.1:2/a")), try #require(BenchURL("ws://127.0.0.1:3/a"))]
        #expect((0..<7).map { plan.url(for: $0).port } == [1, 2, 3, 1, 2, 3, 1])
    }

    @Test func plan_problemsNameTheOption() throws {
        var plan = BenchPlan(mode: .broadcast, url: try #require(BenchURL("ws://127.0.0.1:1/")))
        plan.size = 8
        plan.connections = 0
        plan.duration = .zero
        let problems = plan.problems.joined(separator: "\n")
        #expect(problems.contains("--size must be at least 17"))
        #expect(problems.contains("--connections"))
        #expect(problems.contains("--duration"))
    }
}

@Suite struct BroadcastPayloadTests {
    @Test func payload_roundTripsTheSendTime_atTheAskedSize() {
        let payload = BroadcastPayload.make(sentAt: 0x1234_5678_9abc, size: 64, allocator: ByteBufferAllocator())
        #expect(payload.readableBytes == 64)
        #expect(BroadcastPayload.parse(payload) == .timed(sentAt: 0x1234_5678_9abc))
    }

    @Test func payload_isFoundAfterARoomPrefix() {
        var prefixed = ByteBuffer(string: "[user12]: ")
        var payload = BroadcastPayload.make(sentAt: 42, size: 17, allocator: ByteBufferAllocator())
        prefixed.writeBuffer(&payload)
        #expect(BroadcastPayload.parse(prefixed) == .timed(sentAt: 42))
        #expect(BroadcastPayload.parse(ByteBuffer(string: "[user0]: |end")) == .end)
        #expect(BroadcastPayload.parse(ByteBuffer(string: "You've logged in as [user0]")) == .other)
        #expect(BroadcastPayload.parse(ByteBuffer(string: "|00zz")) == .other)
    }

    @Test func payload_readsTheGoLoadClientsFormat() {
        // Benchmarks/broadcast/loadclient writes fmt.Sprintf("|%016x%s", nanos, padding).
        #expect(BroadcastPayload.parse(ByteBuffer(string: "|00000000075bcd15xxxxxxxx")) == .timed(sentAt: 123_456_789))
    }
}

@Suite struct BenchReportTests {
    @Test func numbers_areFormattedForPeople() {
        #expect(BenchReport.grouped(1_234_567) == "1,234,567")
        #expect(BenchReport.grouped(999) == "999")
        #expect(BenchReport.fixed(0.5, 3) == "0.500")
        #expect(BenchReport.fixed(12.3456, 2) == "12.35")
        #expect(BenchReport.fixed(7, 0) == "7")
    }

    @Test func latency_percentilesComeFromTheHistogram() {
        let recorder = LatencyRecorder(shards: 2)
        for micros in 1...1000 { recorder.record(nanoseconds: UInt64(micros) * 1000, shard: micros) }
        let latency = BenchReport.Latency(recorder.merged())
        #expect(latency.samples == 1000)
        #expect(abs(latency.p50Ms - 0.5) < 0.002)
        #expect(abs(latency.p99Ms - 0.99) < 0.002)
        #expect(abs(latency.maxMs - 1.0) < 0.002)
    }

    @Test func latency_overAMinute_countsAsAMinute() {
        let recorder = LatencyRecorder(shards: 1)
        recorder.record(nanoseconds: 3_600_000_000_000, shard: 0)
        #expect(BenchReport.Latency(recorder.merged()).maxMs >= 59_999)
    }
}
