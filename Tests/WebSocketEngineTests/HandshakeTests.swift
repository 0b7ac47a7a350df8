import NIOCore
import Testing

@testable import WebSocketEngine

func request(
    method: String = "GET",
    target: String = "/echo",
    version: (Int, Int) = (1, 1),
    replacing: [String: String?] = [:]
) -> HTTPRequestHead {
    var headers: [(String, String?)] = [
        ("Host", "example.com"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
    ]
    for (name, value) in replacing {
        headers.removeAll { $0.0 == name }
        headers.append((name, value))
    }
    return HTTPRequestHead(
        method: method,
        target: target,
        version: version,
        headers: headers.compactMap { name, value in value.map { HTTPHeaderField(name, $0) } }
    )
}

func refusal(_ outcome: Handshake.Outcome) -> (HandshakeRefusal, Int)? {
    if case .refuse(let reason, let response) = outcome { return (reason, response.status) }
    return nil
}

@Suite struct HandshakeTests {
    @Test func acceptKey_matchesRFC6455Example() {
        #expect(Handshake.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func sha1_matchesKnownDigests() {
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(SHA1.hash([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hex(SHA1.hash(long)) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    @Test func validRequest_isAccepted() {
        let outcome = Handshake.evaluate(request(), policy: HandshakePolicy())
        #expect(outcome == .accept(acceptKey: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", subprotocol: nil))
    }

    @Test func postRequest_gets405() {
        #expect(
            refusal(Handshake.evaluate(request(method: "POST"), policy: HandshakePolicy()))! == (.methodNotAllowed, 405)
        )
    }

    @Test func plainHTTPRequest_gets426() {
        let outcome = Handshake.evaluate(request(replacing: ["Upgrade": nil]), policy: HandshakePolicy())
        #expect(refusal(outcome)! == (.notAnUpgrade, 426))
    }

    @Test func missingConnectionUpgrade_gets400() {
        let outcome = Handshake.evaluate(request(replacing: ["Connection": "keep-alive"]), policy: HandshakePolicy())
        #expect(refusal(outcome)! == (.missingConnectionUpgrade, 400))
    }

    @Test func otherWebSocketVersion_gets426WithVersion13() {
        let outcome = Handshake.evaluate(request(replacing: ["Sec-WebSocket-Version": "8"]), policy: HandshakePolicy())
        guard case .refuse(.unsupportedWebSocketVersion, let response) = outcome else {
            Issue.record("not refused: \(outcome)")
            return
        }
        #expect(response.status == 426)
        #expect(response.headers.contains(HTTPHeaderField("Sec-WebSocket-Version", "13")))
    }

    @Test(arguments: [nil, "", "short", "dGhlIHNhbXBsZSBub25jZQ", "!!!notbase64!!!"] as [String?])
    func badKey_gets400(_ key: String?) {
        let outcome = Handshake.evaluate(request(replacing: ["Sec-WebSocket-Key": key]), policy: HandshakePolicy())
        #expect(refusal(outcome)! == (.badKey, 400))
    }

    @Test func http10_gets400() {
        #expect(refusal(Handshake.evaluate(request(version: (1, 0)), policy: HandshakePolicy()))! == (.badVersion, 400))
    }

    @Test func origin_isCheckedAgainstTheAllowList() {
        let policy = HandshakePolicy(allowedOrigins: ["https://good.example"])
        let bad = Handshake.evaluate(request(replacing: ["Origin": "https://evil.example"]), policy: policy)
        #expect(refusal(bad)! == (.originNotAllowed, 403))
        let good = Handshake.evaluate(request(replacing: ["Origin": "https://GOOD.example"]), policy: policy)
        #expect(refusal(good) == nil)
        // Clients that are not browsers send no Origin; the allow-list protects browsers.
        #expect(refusal(Handshake.evaluate(request(), policy: policy)) == nil)
    }

    @Test func subprotocol_serverPreferenceWins_amongThoseOffered() {
        let policy = HandshakePolicy(subprotocols: ["v2.chat", "v1.chat"])
        let both = Handshake.evaluate(
            request(replacing: ["Sec-WebSocket-Protocol": "v1.chat, v2.chat"]), policy: policy)
        #expect(both == .accept(acceptKey: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", subprotocol: "v2.chat"))
        let none = Handshake.evaluate(request(replacing: ["Sec-WebSocket-Protocol": "mqtt"]), policy: policy)
        #expect(none == .accept(acceptKey: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", subprotocol: nil))
    }
}

@Suite struct HTTPHeadParserTests {
    @Test func headArrivingInPieces_isParsedOnceComplete() throws {
        var parser = HTTPHeadParser(maxSize: 4096)
        var buffer = ByteBuffer(string: "GET /chat/room%201?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade:  websocket \r")
        #expect(try parser.parse(&buffer) == nil)
        buffer.writeString("\n\r\n")
        buffer.writeInteger(UInt8(0x81))
        let head = try #require(try parser.parse(&buffer))
        #expect(head.method == "GET")
        #expect(head.path == "/chat/room%201")
        #expect(head.query == "x=1")
        #expect(head.first("upgrade") == "websocket")
        #expect(buffer.readableBytes == 1, "bytes after the head stay for the frame parser")
    }

    @Test func headOverTheLimit_isRefused() {
        var parser = HTTPHeadParser(maxSize: 64)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 100))
        #expect(throws: HTTPHeadError.tooLarge(limit: 64)) { try parser.parse(&buffer) }
    }

    @Test(arguments: [
        "GET /\r\n\r\n", "GET / HTTP/2\r\n\r\n", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
    ])
    func malformedHeads_areRefused(_ text: String) {
        var parser = HTTPHeadParser(maxSize: 4096)
        var buffer = ByteBuffer(string: text)
        #expect(throws: HTTPHeadError.self) { try parser.parse(&buffer) }
    }
}

@Suite struct PathTemplateTests {
    @Test func literalPath_matchesExactly() throws {
        let template = try PathTemplate("/echo")
        #expect(template.match("/echo") == [:])
        #expect(template.match("/echo/") == nil)
        #expect(template.match("/echoes") == nil)
    }

    @Test func parameters_capturePercentDecodedSegments() throws {
        let template = try PathTemplate("/chat/{room}/user/{id}")
        #expect(template.match("/chat/main%20hall/user/7") == ["room": "main hall", "id": "7"])
        #expect(template.match("/chat//user/7") == nil)
        #expect(template.match("/chat/a/user") == nil)
    }

    @Test(arguments: ["echo", "/chat/{}", "/chat/{room", "/chat/x{room}", "/a/{id}/{id}", "/a?b", "/{1abc}"])
    func malformedTemplates_areRejected(_ text: String) {
        #expect(throws: PathTemplate.ParseError.self) { try PathTemplate(text) }
    }
}
