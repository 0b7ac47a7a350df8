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
    ])
    func url_parsesHostPortAndTarget(text: String, host: String, port: Int, target: String) throws {
        let url = try #require(BenchURL(text))
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.target == target)
    }

    @Test(arguments: ["wss://127.0.0.1/echo", "http://x/", "ws://:80/", "ws://host:0/", "ws://host:x/"])
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

@Suite struct ClientHandshakeTests {
    private func url() throws -> BenchURL { try #require(BenchURL("ws://127.0.0.1:8080/echo")) }

    @Test func request_carriesKeyAndOffer() throws {
        let handshake = ClientHandshake(url: try url(), deflate: true, key: "dGhlIHNhbXBsZSBub25jZQ==")
        let text = String(buffer: handshake.request)
        #expect(text.hasPrefix("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"))
        #expect(text.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"))
        #expect(text.contains("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover;"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func randomKey_isSixteenBytesOfBase64() {
        var generator = SystemRandomNumberGenerator()
        let key = ClientHandshake.randomKey(using: &generator)
        #expect(key.count == 24)
        #expect(key.hasSuffix("=="))
    }

    @Test func response_waitsForTheWholeHead_thenAccepts() throws {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let handshake = ClientHandshake(url: try url(), deflate: false, key: key)
        var partial = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
        #expect(try handshake.readResponse(from: &partial, deflateOffered: false) == nil)
        var whole = ByteBuffer(
            string: "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nx")
        let agreement = try handshake.readResponse(from: &whole, deflateOffered: false)
        #expect(agreement == ClientHandshake.Agreement(deflate: nil))
        #expect(whole.readableBytes == 1)  // the first frame byte stays for the frame reader
    }

    @Test func response_withDeflate_tellsWhetherTheServerResetsItsContext() throws {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let handshake = ClientHandshake(url: try url(), deflate: true, key: key)
        var response = ByteBuffer(
            string: "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n")
        let agreement = try handshake.readResponse(from: &response, deflateOffered: true)
        #expect(agreement?.deflate == ClientHandshake.DeflateParameters(serverNoContextTakeover: true))
    }

    @Test func response_refusals_sayWhy() throws {
        let handshake = ClientHandshake(url: try url(), deflate: false, key: "dGhlIHNhbXBsZSBub25jZQ==")
        var forbidden = ByteBuffer(string: "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        #expect(throws: ClientHandshake.Refusal(description: "the server answered HTTP 403 Forbidden, not 101")) {
            try handshake.readResponse(from: &forbidden, deflateOffered: false)
        }
        var wrongKey = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: nope\r\n\r\n")
        #expect(throws: ClientHandshake.Refusal.self) {
            try handshake.readResponse(from: &wrongKey, deflateOffered: false)
        }
        var unasked = ByteBuffer(
            string: "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
        #expect(throws: ClientHandshake.Refusal.self) {
            try handshake.readResponse(from: &unasked, deflateOffered: false)
        }
    }
}

@Suite struct ClientMessageReaderTests {
    private func frame(_ opcode: Opcode, _ payload: String, fin: Bool = true, rsv1: Bool = false) -> ByteBuffer {
        FrameEncoder.encode(fin: fin, reserved: rsv1 ? .rsv1 : [], opcode: opcode, payload: ByteBuffer(string: payload))
    }

    @Test func reader_joinsFragments_andPassesControlFramesBetweenThem() throws {
        var reader = ClientMessageReader(deflate: nil)
        var bytes = frame(.text, "Hel", fin: false)
        var ping = frame(.ping, "p")
        var rest = frame(.continuation, "lo")
        bytes.writeBuffer(&ping)
        bytes.writeBuffer(&rest)
        guard case .ping(let payload) = try reader.next(from: &bytes) else {
            Issue.record("expected the ping first")
            return
        }
        #expect(String(buffer: payload) == "p")
        guard case .message(let isText, let message) = try reader.next(from: &bytes) else {
            Issue.record("expected the message")
            return
        }
        #expect(isText)
        #expect(String(buffer: message) == "Hello")
        #expect(try reader.next(from: &bytes) == nil)
    }

    @Test func reader_readsAFrameSplitAcrossReads() throws {
        var reader = ClientMessageReader(deflate: nil)
        let whole = frame(.binary, String(repeating: "a", count: 300))
        var first = whole.getSlice(at: 0, length: 100)!
        var second = whole.getSlice(at: 100, length: whole.readableBytes - 100)!
        #expect(try reader.next(from: &first) == nil)
        guard case .message(false, let payload) = try reader.next(from: &second) else {
            Issue.record("expected a binary message")
            return
        }
        #expect(payload.readableBytes == 300)
    }

    @Test func reader_reportsTheCloseCode() throws {
        var reader = ClientMessageReader(deflate: nil)
        var bytes = FrameEncoder.encode(
            opcode: .close, payload: FrameEncoder.closePayload(CloseReason(.goingAway, "bye")))
        guard case .close(let code) = try reader.next(from: &bytes) else {
            Issue.record("expected a close")
            return
        }
        #expect(code == 1001)
    }

    @Test func reader_refusesACompressedFrameWithoutDeflate() {
        var reader = ClientMessageReader(deflate: nil)
        var bytes = frame(.text, "x", rsv1: true)
        #expect(throws: ClientMessageReader.Failure.self) { try reader.next(from: &bytes) }
    }

    @Test func deflate_roundTripsThroughTheReader() throws {
        let deflate = try ClientDeflate(.init(serverNoContextTakeover: true))
        let text = String(repeating: "compress me please ", count: 40)
        let compressed = try deflate.compress(ByteBuffer(string: text))
        #expect(compressed.readableBytes < text.utf8.count / 4)
        var reader = ClientMessageReader(deflate: deflate)
        var bytes = FrameEncoder.encode(reserved: .rsv1, opcode: .text, payload: compressed)
        guard case .message(true, let payload) = try reader.next(from: &bytes) else {
            Issue.record("expected a text message")
            return
        }
        #expect(String(buffer: payload) == text)
    }

    @Test func maskKeys_vary() {
        var keys = MaskKeys(seed: 7)
        let first = keys.next()
        let second = keys.next()
        #expect([first.0, first.1, first.2, first.3] != [second.0, second.1, second.2, second.3])
    }
}

extension ClientMessageReader.Event: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.message(let a, let x), .message(let b, let y)): a == b && x == y
        case (.ping(let x), .ping(let y)): x == y
        case (.pong, .pong): true
        case (.close(let a), .close(let b)): a == b
        default: false
        }
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
